from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from click.testing import CliRunner

from gisplan._errors import SchemaError
from gisplan.cli import cli
from gisplan.coverage import coverage
from gisplan.siting import exact_max_cover, greedy_max_cover, site
from gisplan.store import Project

CRS = 4547


def brute_force(a: np.ndarray, w: np.ndarray, k: int) -> float:
    best = 0.0
    for combo in itertools.combinations(range(a.shape[0]), k):
        best = max(best, float(w[a[list(combo)].any(axis=0)].sum()))
    return best


def random_problem(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.random((9, 25)) < 0.2
    w = rng.integers(1, 200, 25).astype(float)
    return a, w


@pytest.mark.parametrize("seed", range(6))
def test_exact_solver_matches_brute_force(seed: int) -> None:
    a, w = random_problem(seed)
    chosen, obj = exact_max_cover(sp.csr_matrix(a), w, 3)
    assert obj == pytest.approx(brute_force(a, w, 3))
    assert len(chosen) <= 3
    assert w[a[chosen].any(axis=0)].sum() == pytest.approx(obj)


@pytest.mark.parametrize("seed", range(6))
def test_greedy_is_within_the_classic_bound_of_the_optimum(seed: int) -> None:
    a, w = random_problem(seed)
    chosen, gains = greedy_max_cover(sp.csr_matrix(a), w, 3)
    opt = brute_force(a, w, 3)
    assert gains.sum() == pytest.approx(w[a[chosen].any(axis=0)].sum())
    assert gains.sum() >= (1 - 1 / np.e) * opt
    assert gains.sum() <= opt + 1e-9


def test_greedy_gains_never_increase() -> None:
    a, w = random_problem(11)
    _, gains = greedy_max_cover(sp.csr_matrix(a), w, 5)
    assert (np.diff(gains) <= 1e-9).all()


def test_greedy_ignores_demand_already_covered() -> None:
    a = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 1]], dtype=bool))
    chosen, gains = greedy_max_cover(a, np.array([50.0, 50.0, 60.0]), 1,
                                     covered=np.array([True, True, False]))
    assert chosen.tolist() == [1]
    assert gains.tolist() == [60.0]


def test_greedy_stops_when_nothing_more_can_be_covered() -> None:
    a = sp.csr_matrix(np.array([[1, 0], [1, 0]], dtype=bool))
    chosen, _ = greedy_max_cover(a, np.array([5.0, 7.0]), 2)
    assert chosen.tolist() == [0]


# ----------------------------------------------------------------------- adapter
def grid_city() -> dict[str, gpd.GeoDataFrame]:
    xs = np.arange(11) * 100.0
    lines = []
    for y in xs:
        for a, b in itertools.pairwise(xs):
            lines += [shapely.LineString([(a, y), (b, y)]), shapely.LineString([(y, a), (y, b)])]
    roads = gpd.GeoDataFrame({"road_id": [f"R{i}" for i in range(len(lines))]},
                             geometry=lines, crs=CRS)
    boxes = [shapely.box(x + 20, y + 20, x + 80, y + 80) for x in xs[:-1] for y in xs[:-1]]
    rng = np.random.default_rng(3)
    comp = gpd.GeoDataFrame({"compound_id": [f"C{i:03d}" for i in range(100)],
                             "name": "x", "households": rng.integers(50, 500, 100)},
                            geometry=boxes, crs=CRS)
    fac = gpd.GeoDataFrame({"facility_id": ["F1"], "facility_type": ["幼儿园"]},
                           geometry=[shapely.Point(150, 100)], crs=CRS)
    return {"compounds": comp, "roads": roads, "facilities": fac}


def test_proposed_sites_really_cover_what_they_claim() -> None:
    city = grid_city()
    res = site(**city, facility_type="幼儿园", count=3)
    assert len(res.sites) == 3
    assert res.sites["candidate_source"].eq("network_node").all()
    # add the sites as facilities and measure again: the households newly covered
    new = gpd.GeoDataFrame({"facility_id": ["S1", "S2", "S3"],
                            "facility_type": ["kindergarten"] * 3},
                           geometry=res.sites.geometry.to_numpy(), crs=CRS)
    after = coverage(**(city | {"facilities": pd.concat([city["facilities"], new])}),
                     types=["kindergarten"])
    before = coverage(**city, types=["kindergarten"])
    hh = city["compounds"]["households"].to_numpy()
    gained = (after.compounds["covered_kindergarten"].to_numpy()
              & ~before.compounds["covered_kindergarten"].to_numpy())
    assert hh[gained].sum() == res.totals["households_newly_covered"]
    assert res.sites["households_new"].sum() == res.totals["households_newly_covered"]
    assert res.sites["households_cumulative"].iloc[-1] == res.totals["households_newly_covered"]


def test_exact_solver_is_at_least_as_good_as_greedy_on_the_grid() -> None:
    city = grid_city()
    g = site(**city, facility_type="kindergarten", count=2, candidates="compounds")
    e = site(**city, facility_type="kindergarten", count=2, candidates="compounds",
             solver="exact")
    assert e.totals["households_newly_covered"] >= g.totals["households_newly_covered"]
    assert (e.sites["households_new"].diff().dropna() <= 0).all()


def test_a_candidate_layer_is_used_as_given() -> None:
    city = grid_city()
    lots = gpd.GeoDataFrame({"candidate_id": ["lot-A", "lot-B"]}, crs=CRS,
                            geometry=[shapely.box(880, 880, 920, 920), shapely.Point(5, 5)])
    res = site(**city, facility_type="kindergarten", count=1, candidates=lots)
    assert res.sites["candidate"].tolist() == ["lot-A"]
    assert res.sites.geometry.iloc[0].distance(shapely.Point(900, 900)) < 25


def test_straight_line_siting_without_roads() -> None:
    city = grid_city()
    del city["roads"]
    res = site(**city, facility_type="kindergarten", count=2)
    assert res.sites["candidate_source"].eq("compound").all()
    assert res.totals["households_newly_covered"] > 0


def test_unknown_type_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(SchemaError, match="kindergarten"):
        site(**grid_city(), facility_type="幼儿圆", count=1)


def test_cli_site_writes_the_sites_layer(tmp_path: Path) -> None:
    path = tmp_path / "p.gpkg"
    Project.create(path, meta={"name": "t"}, layers=grid_city())
    out = CliRunner().invoke(cli, ["site", str(path), "--type", "幼儿园", "--count", "2"])
    assert out.exit_code == 0, out.output
    assert "newly covered" in out.output
    sites = Project.open(path).read("sites")
    assert sites["rank"].tolist() == [1, 2]
