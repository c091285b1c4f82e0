"""清洁小屋 per large compound, shared 垃圾分类亭 per 片区."""

from __future__ import annotations

from gisplan.waste_points import load_waste_rules, waste_points_project


def test_guyuan_large_compounds_get_a_cleaning_house_small_ones_share_kiosks() -> None:
    rules = load_waste_rules()
    r = waste_points_project("layers/guyuan_2022.gpkg")
    c = r.compounds
    large = c["households"] >= rules["cleaning_house_min_households"]
    assert (c.loc[large, "waste_facility"] == "cleaning_house").all()
    kiosks = r.points[r.points["kind"] == "kiosk"]
    assert (kiosks["standard_m"] == 70).all()  # the standard's distance, life_circle.csv
    assert kiosks.groupby("group").size().max() <= rules["max_kiosks_per_group"]
    assert len(c) == 26
    # every small compound is served within the standard or flagged
    small = c[~large]
    served = small["kiosk"] != ""
    assert (served | small["flags"].str.contains("kiosk_beyond_standard")).all()
    assert len(r.report.by_code("kiosk_beyond_standard")) == int((~served).sum())
    # a kiosk's compounds belong to its 片区
    for k in kiosks.itertuples():
        ids = k.compound_ids.split(";")
        assert set(c.set_index("compound_id").loc[ids, "district"]) == {k.group}
