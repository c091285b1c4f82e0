"""Property-based tests of bundling on random synthetic layouts (hypothesis)."""

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gisplan.bundle import bundle_compounds

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_400_000.0


@st.composite
def layouts(draw):
    """A random block of compounds: grid cells, some empty, random sizes, gaps, data."""
    nx_, ny_ = draw(st.integers(1, 7)), draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ix, iy = np.meshgrid(np.arange(nx_), np.arange(ny_))
    ix, iy = ix.ravel(), iy.ravel()
    keep = rng.random(ix.size) < 0.85
    ix, iy = ix[keep], iy[keep]
    n = ix.size
    cell = 110.0
    w = rng.uniform(60, 110, n)  # 0–50 m between neighbours
    h = rng.uniform(60, 110, n)
    x0 = X0 + ix * cell
    y0 = Y0 + iy * cell
    households = rng.integers(10, 400, n).astype(float)
    households[rng.random(n) < 0.05] = np.nan
    years = rng.choice([1975, 1990, 2000, 2002, 2004, 2008, -1], n,
                       p=[0.2, 0.25, 0.2, 0.1, 0.1, 0.1, 0.05]).astype(float)
    years[years < 0] = np.nan
    gdf = gpd.GeoDataFrame(
        {"compound_id": [f"C{k:03d}" for k in range(n)],
         "name": [f"小区{k}" for k in range(n)],
         "households": pd.array(households, dtype="Float64").astype("Int64"),
         "built_year": pd.array(years, dtype="Float64").astype("Int64"),
         "district": np.where(ix < nx_ // 2, "P1", "P2"),
         "prior_central_funding": rng.random(n) < 0.05},
        geometry=shapely.box(x0, y0, x0 + w, y0 + h), crs=CRS)
    opts = {
        "min_households": int(draw(st.integers(0, 600))),
        "max_households": 0,
        "max_span_m": float(draw(st.sampled_from([150.0, 300.0, 600.0, 5000.0]))),
        "gap_m": float(draw(st.sampled_from([0.0, 20.0, 45.0]))),
        "level": draw(st.sampled_from(["pianqu", None])),
    }
    opts["max_households"] = opts["min_households"] + int(draw(st.integers(0, 2000)))
    return gdf, opts


SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _graph(res):
    g = nx.Graph()
    e = res.adjacency
    g.add_edges_from(zip(e["compound_a"], e["compound_b"], strict=True))
    return g


@SETTINGS
@given(layouts())
def test_conservation_every_compound_exactly_once(case):
    gdf, opts = case
    res = bundle_compounds(gdf, **opts)
    ids = list(res.members["compound_id"]) + list(res.standalone["compound_id"])
    assert sorted(ids) == sorted(gdf["compound_id"])
    assert res.standalone["reason"].str.len().gt(0).all()


@SETTINGS
@given(layouts())
def test_constraints_hold_in_every_bundle(case):
    gdf, opts = case
    res = bundle_compounds(gdf, **opts)
    b = res.bundles
    assert b["households"].between(opts["min_households"], opts["max_households"]).all()
    assert (b["span_m"] <= opts["max_span_m"] + 0.1).all()
    if opts["level"] == "pianqu":
        dist = gdf.set_index("compound_id")["district"]
        per = res.members.assign(d=res.members["compound_id"].map(dist))
        assert (per.groupby("bundle_id")["d"].nunique() == 1).all()
    # Guyuan rule: 2001–2005 share within the cap; never an ineligible member
    assert b["households_2001_2005"].sum() <= 0.15 * b["households"].sum() + 1e-6
    assert set(res.members["eligibility"]) <= {"eligible", "conditional_2001_2005"}


@SETTINGS
@given(layouts())
def test_members_of_a_bundle_are_connected_by_adjacency_edges(case):
    gdf, opts = case
    res = bundle_compounds(gdf, **opts)
    g = _graph(res)
    for _, m in res.members.groupby("bundle_id"):
        ids = list(m["compound_id"])
        if len(ids) > 1:
            assert nx.is_connected(g.subgraph(ids))


@SETTINGS
@given(layouts())
def test_2001_2005_members_touch_an_eligible_member_of_their_bundle(case):
    gdf, opts = case
    res = bundle_compounds(gdf, **opts)
    g = _graph(res)
    m = res.members.set_index("compound_id")
    for cid in m.index[m["eligibility"] == "conditional_2001_2005"]:
        same = [u for u in g.neighbors(cid)
                if u in m.index and m.loc[u, "bundle_id"] == m.loc[cid, "bundle_id"]]
        assert any(m.loc[u, "eligibility"] == "eligible" for u in same)


@SETTINGS
@given(layouts())
def test_same_input_and_options_give_the_same_output(case):
    gdf, opts = case
    a = bundle_compounds(gdf, **opts)
    b = bundle_compounds(gdf.copy(), **opts)
    pd.testing.assert_frame_equal(a.members, b.members)
    pd.testing.assert_frame_equal(a.standalone, b.standalone)
    pd.testing.assert_frame_equal(pd.DataFrame(a.bundles.drop(columns="geometry")),
                                  pd.DataFrame(b.bundles.drop(columns="geometry")))
