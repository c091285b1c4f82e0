"""Labels (Chinese and English) and colours of the maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from gisplan.maps.options import Lang
from gisplan.schema import zh as vocab_zh

# ---------------------------------------------------------------- labels

_TEXT: dict[str, tuple[str, str]] = {
    "compounds": ("小区", "Compounds"),
    "districts_county": ("县区界", "County boundaries"),
    "districts_street": ("街道界", "Street boundaries"),
    "districts_pianqu": ("片区界", "Area (pianqu) boundaries"),
    "roads": ("道路", "Roads"),
    "rollup_county": ("县区进度汇总", "Progress by county"),
    "rollup_pianqu": ("片区进度汇总", "Progress by area (pianqu)"),
    "progress_title": ("改造进度", "Renovation progress"),
    "gaps_title": ("设施覆盖与缺口", "Facility coverage and gaps"),
    "bundles_title": ("连片改造打包", "Renovation bundles"),
    "utilities_title": ("管线现状", "Utility networks"),
    "search": ("搜索小区名称…", "Search compound name… 搜索小区"),
    "no_match": ("无匹配小区", "No matching compound 无匹配"),
    "as_of": ("截至", "as of"),
    "stage": ("进度阶段", "Stage"),
    "no_record": ("无进度记录", "No record 无记录"),
    "slider": ("进度时间轴", "Progress over time 时间轴"),
    "charts": ("进度图表", "Progress charts 进度图表"),
    "atlas_title": ("一张图", "Atlas 一张图"),
    "filter_table": ("筛选小区（名称、县区、片区、阶段…）", "Filter compounds 筛选"),
    "search_all": ("搜索小区名称…", "Search compound name 搜索"),
    "time": ("时间", "Time 时间"),
    "start_rate": ("开工率", "Started 开工率"),
    "completion_rate": ("完工率", "Completed 完工率"),
    "by_households": ("按户", "by households 按户"),
    "by_count": ("按小区数", "by compounds 按小区数"),
    "target": ("目标", "target 目标"),
    "programme_total": ("全市合计", "Programme 合计"),
    "started_share": ("开工（按户）", "Started, by households 开工"),
    "completed_share": ("完工（按户）", "Completed, by households 完工"),
    "compound_id": ("小区编号", "Compound ID"),
    "county": ("县区", "County"),
    "district": ("片区", "Area (pianqu)"),
    "street": ("街道", "Street"),
    "households": ("户数", "Households"),
    "buildings": ("楼栋数", "Buildings"),
    "floor_area_m2": ("建筑面积（㎡）", "Floor area (m²)"),
    "built_year": ("建成年份", "Built"),
    "compounds_planned": ("计划小区数", "Compounds planned"),
    "households_planned": ("计划户数", "Households planned"),
    "compounds_started": ("已开工小区", "Compounds started"),
    "households_started": ("已开工户数", "Households started"),
    "start_rate_households": ("开工率（按户）", "Start rate (households)"),
    "compounds_completed": ("已完工小区", "Compounds completed"),
    "households_completed": ("已完工户数", "Households completed"),
    "completion_rate_households": ("完工率（按户）", "Completion rate (households)"),
    "starts_flagged": ("开工条件存疑", "Starts not meeting criteria"),
    "why": ("纳入理由", "Why in this bundle"),
    "district_bundle": ("片区", "Area (pianqu)"),
    "covered": ("覆盖", "Covered"),
    "uncovered": ("未覆盖（缺口）", "Not covered (gap)"),
    "no_distance": ("无距离数据", "No distance"),
    "facilities": ("设施", "Facilities"),
    "service_distance": ("服务半径（直线，仅供参考）",
                         "Service radius (straight line, for reference)"),
    "walk_catchment": ("步行服务范围", "Walking catchment"),
    "walk_m": ("步行距离", "Walking distance"),
    "straight_m": ("直线距离", "Straight-line distance"),
    "standard_m": ("标准距离", "Standard distance"),
    "facility_type": ("设施类型", "Facility type"),
    "capacity": ("规模", "Capacity"),
    "name": ("名称", "Name"),
    "bundle": ("打包", "Bundle"),
    "bundle_id": ("打包编号", "Bundle ID"),
    "bundles": ("打包范围", "Bundle outlines"),
    "bundle_members": ("打包小区", "Bundle members"),
    "bundle_colours": ("{n} 个打包（相邻打包颜色不同）",
                       "{n} bundles (neighbours in different colours)"),
    "standalone": ("未打包", "Not bundled"),
    "members": ("小区数", "Member compounds"),
    "owners": ("需协调的管线权属单位", "Utility owners to coordinate"),
    "network": ("管线类型", "Network"),
    "owner": ("权属单位", "Owner"),
    "install_year": ("敷设年份", "Installed"),
    "age_years": ("管龄（年）", "Age (years)"),
    "material": ("材质", "Material"),
    "diameter_mm": ("管径（毫米）", "Diameter (mm)"),
    "utility_id": ("管线编号", "Utility ID"),
    "older_than": ("管龄 ≥ {n} 年", "Age ≥ {n} years"),
    "home": ("全览", "Whole programme 全览"),
    "print": ("打印 / 导出 PDF", "Print / save as PDF 打印"),
    "started_on": ("开工日期", "Started on 开工"),
    "completed_on": ("完工日期", "Completed on 完工"),
    "all_gaps": ("各类设施步行距离 / 标准", "Walking distance / standard, every type"),
    "gap": ("缺口", "Gap 缺口"),
    "coverage_source_network": ("步行网络距离", "walking-network distances"),
    "coverage_source_straight": ("直线距离（无步行网络）", "straight-line distances (no network)"),
}


def _t(key: str, lang: Lang) -> str:
    """Return the label *key*: Chinese, or English with the Chinese term beside it."""
    zh, en = _TEXT[key]
    if lang == "zh":
        return zh
    if any("\u4e00" <= ch <= "\u9fff" for ch in en):
        return en
    return f"{en} {zh}"


def _v(vocab_name: str, key: Any, lang: Lang) -> str:
    """Return the label of a vocabulary key (``stage``, ``network``, ...)."""
    if key is None or (isinstance(key, float) and np.isnan(key)):
        return "—"
    key = str(key)
    zh = vocab_zh(vocab_name, key)
    if lang == "zh":
        return zh
    en = key.replace("_", " ").capitalize()
    return en if zh == key else f"{en} {zh}"


# ---------------------------------------------------------------- colours

STAGE_COLORS: dict[str, str] = {
    "planned": "#8c8c8c",
    "consulted": "#fdd49e",
    "designed": "#fdae6b",
    "tendered": "#f16913",
    "started": "#6baed6",
    "completed": "#2171b5",
    "accepted": "#08519c",
    "handed_over": "#08306b",
}
#: conventional colours of Chinese utility drawings (CJJ 61): water blue, drainage
#: brown, power red, gas yellow, heating orange, telecom green
NETWORK_COLORS: dict[str, str] = {
    "water_supply": "#1f78b4",
    "drainage": "#8c510a",
    "power": "#e31a1c",
    "gas": "#d4a600",
    "heating": "#ff7f00",
    "telecom": "#1a9850",
}
#: bundle colours: Okabe & Ito's palette for colour-blind viewers (black left out), then
#: Tol's wine; neighbouring bundles never share one (:func:`adjacent_colors`)
CATEGORICAL = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
               "#F0E442", "#882255"]
#: gaps: blue covered, orange gap (apart under every colour-vision deficiency)
COVERED, UNCOVERED, NODATA = "#2166ac", "#e66101", "#d9d9d9"
#: in the programme, nothing reported yet (planned) is solid grey; no report at all is
#: near-white with a dashed outline
NO_RECORD, NO_RECORD_STROKE = "#f7f7f7", "#636363"
FACILITY = "#222222"
CONTEXT = "#9e9e9e"
#: utility line widths (px): the legend swatches use the same
PIPE_WIDTH, OLD_PIPE_WIDTH = 2.5, 4.5

