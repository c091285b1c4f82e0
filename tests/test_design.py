import pandas as pd

from gisplan.design import design_gaps, design_rules, parse_items


def test_table_requires_the_huaian_items_with_their_source():
    rules = design_rules()
    basic = set(rules.required("basic"))
    assert {"waste_sorting", "security", "fire_safety", "power", "water_supply", "gas",
            "telecom"} <= basic
    assert rules.required("improvement") == ["parcel_lockers"]
    assert set(rules.required("upgrade")) == {"elderly_care", "childcare"}
    required = rules.table[rules.table["required"]]
    assert required["source"].str.contains("淮安").all()
    assert rules.table.loc[~rules.table["required"], "source"].str.contains("国办发").all()


def test_missing_items_are_listed_per_compound():
    compounds = pd.DataFrame({
        "compound_id": ["A", "B"],
        "name": ["梅园小区", "靖丰苑"],
        "categories": ["基础类", "基础类;提升类"],
        "planned_items": ["供水、供电、供气、弱电、安防、消防、垃圾分类设施",
                          "供水、供电、供气、弱电、安防、消防"],
    })
    gaps = design_gaps(compounds)
    assert gaps.loc[0, "n_missing"] == 0
    assert gaps.loc[0, "flags"] == ""
    assert gaps.loc[1, "missing_items"].split(";") == ["waste_sorting", "elderly_care",
                                                       "childcare"]
    assert gaps.loc[1, "missing_zh"] == "生活垃圾分类、养老用房、托幼用房"
    assert gaps.loc[1, "flags"] == "design_items_missing"


def test_one_name_can_stand_for_two_items():
    keys, unknown = parse_items("养老托幼用房；智能快递柜")
    assert keys == ["elderly_care", "childcare", "parcel_lockers"]
    assert unknown == []


def test_unknown_names_are_reported_not_dropped():
    compounds = pd.DataFrame({"compound_id": ["A"], "categories": ["基础类"],
                              "planned_items": ["供水、空中花园"]})
    gaps = design_gaps(compounds)
    assert gaps.loc[0, "unknown_items"] == "空中花园"
    assert "unknown_item" in gaps.loc[0, "flags"].split(";")


def test_rows_in_equal_rows_out_and_index_is_kept():
    compounds = pd.DataFrame({"categories": ["基础类", None, "完善类"],
                              "planned_items": [None, "供水", "智能快件箱"]},
                             index=[10, 20, 30])
    gaps = design_gaps(compounds)
    assert list(gaps.index) == [10, 20, 30]
    # no category given: basic is assumed (every compound gets 基础类)
    assert gaps.loc[20, "categories"] == "basic"
    assert "no_planned_items" in gaps.loc[10, "flags"]
    assert gaps.loc[30, "missing_items"] == ""
