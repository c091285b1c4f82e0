"""Which eligibility rules bundling applies, and what ``household_cap`` means."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisplan._errors import ConstraintError, InputError
from gisplan.bundle import bundle_compounds, bundle_project

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_400_000.0


def city():
    """Four eligible compounds (250 households each), each with a 2003 neighbour (100)."""
    south = shapely.box(X0 + np.arange(4) * 108, Y0, X0 + np.arange(4) * 108 + 100, Y0 + 100)
    north = shapely.box(X0 + np.arange(4) * 108, Y0 + 108, X0 + np.arange(4) * 108 + 100,
                        Y0 + 208)
    return gpd.GeoDataFrame(
        {"compound_id": [f"S{k}" for k in range(4)] + [f"N{k}" for k in range(4)],
         "households": [250] * 4 + [100] * 4,
         "built_year": [1990] * 4 + [2003] * 4, "district": "P1"},
        geometry=np.r_[south, north], crs=CRS)


def conditional_in_bundles(res):
    return int((res.members["eligibility"] == "conditional_2001_2005").sum())


def test_the_default_is_the_national_baseline_and_admits_no_2001_2005_compound():
    res = bundle_compounds(city(), min_households=100, max_households=5000)
    assert res.rules.name == res.options["rules"] == "national_2020"
    assert conditional_in_bundles(res) == 0
    st = res.standalone.set_index("compound_id")
    assert (st.loc[["N0", "N1", "N2", "N3"], "reason"] == "built_after_2000").all()
    assert st["reason_zh"].str.contains("国办发").all()


def test_household_cap_rules_takes_the_cap_of_the_rule_set():
    res = bundle_compounds(city(), rules="guyuan_2022", min_households=100,
                           max_households=5000)
    assert res.options["household_cap"] == pytest.approx(0.15)
    b = res.bundles
    assert 0 < b["households_2001_2005"].sum() <= 0.15 * b["households"].sum()


@pytest.mark.parametrize("cap", [None, 1.0])
def test_household_cap_none_or_one_means_no_cap(cap):
    res = bundle_compounds(city(), rules="guyuan_2022", min_households=100,
                           max_households=5000, household_cap=cap)
    assert conditional_in_bundles(res) == 4
    assert res.options["household_cap"] == cap


def test_a_household_cap_outside_zero_to_one_is_refused():
    with pytest.raises(ConstraintError, match="household_cap"):
        bundle_compounds(city(), rules="guyuan_2022", household_cap=15)


def test_an_unknown_level_is_refused_with_the_known_ones():
    with pytest.raises(ConstraintError, match="pianqu, street, county"):
        bundle_compounds(city(), level="片区")  # type: ignore[arg-type]


def store(tmp_path, meta):
    from gisplan.store import Project

    return Project.create(tmp_path / "p.gpkg", meta={"name": "测试", **meta},
                          layers={"compounds": city().to_crs("EPSG:4326")})


def test_bundle_project_applies_the_rule_set_the_programme_names(tmp_path):
    p = store(tmp_path, {"rule_set": "guyuan_2022"})
    res = bundle_project(p, min_households=100, max_households=5000, write=False)
    assert res.rules.name == "guyuan_2022"
    assert "rule_set" in res.rules_chosen_by
    assert conditional_in_bundles(res) > 0


def test_another_citys_rules_do_not_reach_a_programme_that_names_none(tmp_path):
    p = store(tmp_path, {"rules": {"consent_min": 0.8}})
    res = bundle_project(p, min_households=100, max_households=5000, write=False)
    assert res.rules.name == "national_2020"
    assert "default" in res.rules_chosen_by
    assert conditional_in_bundles(res) == 0


def test_an_unknown_rule_set_in_the_programme_is_an_error_naming_the_known_ones(tmp_path):
    p = store(tmp_path, {"rule_set": "xian_2024"})
    with pytest.raises(InputError, match="national_2020, guyuan_2022"):
        bundle_project(p, write=False)


def test_cli_bundle_says_which_rule_set_it_used(tmp_path):
    from gisplan.cli import cli

    p = store(tmp_path, {"rule_set": "guyuan_2022"})
    out = CliRunner().invoke(cli, ["bundle", str(p.path), "--min-households", "100",
                                   "--no-write"])
    assert out.exit_code == 0, out.output
    assert "rule set 改造对象规则: guyuan_2022 (固原市原州区" in out.output


def test_the_guyuan_sample_keeps_its_own_rules(sample_copy):
    res = bundle_project(sample_copy("guyuan"), write=False)
    assert res.rules.name == "guyuan_2022"
    # its two compounds built 2001-2005 are bundled with their eligible neighbours
    assert conditional_in_bundles(res) == 2


def test_layers_in_another_crs_warn_once_naming_both(tmp_path):
    from gisplan.crs import CRSMismatchWarning

    comp = city()
    dist = gpd.GeoDataFrame({"district_id": ["P1"], "level": ["片区"]},
                            geometry=[shapely.box(X0 - 10, Y0 - 10, X0 + 500, Y0 + 300)],
                            crs=CRS).to_crs("EPSG:4326")
    with pytest.warns(CRSMismatchWarning) as caught:
        res = bundle_compounds(comp, districts=dist, min_households=100)
    assert len([w for w in caught if issubclass(w.category, CRSMismatchWarning)]) == 1
    found = res.report.by_code("crs_reprojected")
    assert len(found) == 1 and "EPSG:4326" in found[0].message
    assert pd.Series(res.bundles["district"]).eq("P1").all()
