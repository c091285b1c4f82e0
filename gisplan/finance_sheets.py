"""Report sheets of money and responsibility, with Chinese headers (for ``report.py``).

Each function takes the result of an analysis and returns one sheet as a DataFrame whose
headers are Chinese; :data:`HEADERS` maps every canonical column name to its Chinese
header, and :func:`header_notes` returns the map as a notes sheet (中文表头 ↔ canonical
name) so that the canonical names stay available. Sheets: 项目清单, 资金来源（项目）,
资金来源（片区）, 资金来源核对, 联系点, 垃圾分类设施, 考核评价.

Examples
--------
>>> from gisplan.finance_sheets import HEADERS, to_chinese
>>> import pandas as pd
>>> to_chinese(pd.DataFrame({"compound_id": ["A"], "estimate_wan_yuan": [1.0]})).columns.tolist()
['小区编号', '资金概算（万元）']
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gisplan.contact_points import ContactPointResult
from gisplan.evaluation import EvaluationResult
from gisplan.funding import FundingResult
from gisplan.plan_checks import RESPONSIBILITY_FIELDS, CheckResult
from gisplan.waste_points import WastePointResult

__all__ = ["HEADERS", "contact_points_sheet", "evaluation_sheet", "funding_bundle_sheet",
           "funding_project_sheet", "funding_reconciliation_sheet", "header_notes",
           "project_list_sheet", "to_chinese", "waste_points_sheet"]

#: Canonical column name -> Chinese header (every column of the sheets of this module,
#: plus the English headers of today's report sheets: district_name, households_2001_2005,
#: land_area_m2, community, built_year).
HEADERS: dict[str, str] = {
    "compound_id": "小区编号", "name": "小区名称", "county": "县区", "street": "街道",
    "community": "社区", "district": "片区", "district_name": "片区名称",
    "built_year": "建成年份", "households": "户数", "households_2001_2005": "2001—2005年建成户数",
    "buildings": "栋数", "floor_area_m2": "建筑面积（m²）", "land_area_m2": "占地面积（m²）",
    "bundle_id": "片区/打包编号", "compounds": "小区数", "compound_ids": "小区编号列表",
    "items": "改造内容", "planned_items": "改造内容", "measures": "保障措施",
    "estimate_basic_wan_yuan": "基础类概算（万元）",
    "estimate_improvement_wan_yuan": "完善类概算（万元）",
    "estimate_upgrade_wan_yuan": "提升类概算（万元）",
    "estimate_raw_wan_yuan": "单价测算（万元）", "calibration_factor": "校准系数",
    "estimate_wan_yuan": "资金概算（万元）", "yuan_per_m2": "单方造价（元/m²）",
    "wan_yuan_per_household": "户均（万元/户）", "shared_trench_m": "共沟长度（m）",
    "joint_saving_wan_yuan": "统筹施工节约（万元）",
    "estimate_joint_wan_yuan": "统筹施工后概算（万元）",
    "funding_total_wan_yuan": "资金来源合计（万元）", "funding_gap_wan_yuan": "资金缺口（万元）",
    "stated_source": "批复资金来源", "stated_zh": "批复资金来源名称",
    "stated_wan_yuan": "批复金额（万元）", "planned_wan_yuan": "按规则测算（万元）",
    "difference_wan_yuan": "差额（万元）", "sources": "对应资金渠道",
    **RESPONSIBILITY_FIELDS, "missing": "缺项", "complete": "要素齐全",
    "scope_status": "验收范围核对", "missing_zh": "未验收的计划内容",
    "score_size": "规模适中得分", "score_consent": "群众基础得分", "score_space": "空间设施得分",
    "score_social_capital": "社会资本得分", "score": "综合得分",
    "rank_in_county": "县区内排名", "selected": "建议为联系点", "override": "人工调整",
    "override_reason": "调整理由", "explanation": "说明",
    "facility_id": "设施编号", "kind_zh": "设施类型", "group": "片区",
    "standard_m": "服务距离标准（m）", "waste_facility": "垃圾分类设施", "kiosk": "服务分类亭",
    "within_standard": "在标准距离内", "rank": "排名", "top": "优秀县区",
    "mid_year_score": "年中得分", "year_end_score": "年终得分", "flags": "标记",
}


def _funding_headers(columns: Any, sources: dict[str, dict[str, str]] | None) -> dict[str, str]:
    out = {}
    for c in columns:
        if sources and c.startswith("funding_") and c.endswith("_wan_yuan"):
            key = c[len("funding_"):-len("_wan_yuan")]
            if key in sources:
                out[c] = f"{sources[key]['zh']}（万元）"
    return out


def to_chinese(frame: pd.DataFrame, extra: dict[str, str] | None = None) -> pd.DataFrame:
    """Return *frame* with Chinese headers (unknown columns keep their name)."""
    m = {**HEADERS, **(extra or {})}
    return frame.rename(columns={c: m.get(c, c) for c in frame.columns})


def header_notes(*frames: pd.DataFrame, extra: dict[str, str] | None = None) -> pd.DataFrame:
    """Return a notes sheet: ``中文表头``, ``canonical`` for every column of *frames*."""
    m = {**HEADERS, **(extra or {})}
    cols = list(dict.fromkeys(c for f in frames for c in f.columns))
    return pd.DataFrame({"中文表头": [m.get(c, c) for c in cols], "canonical": cols})


def project_list_sheet(funding: FundingResult, completeness: CheckResult | None = None
                       ) -> pd.DataFrame:
    """项目清单: per project its content, estimate, funding split and responsible units."""
    est = funding.estimate.compounds
    keep = [c for c in ("compound_id", "name", "county", "bundle_id", "households",
                        "floor_area_m2", "items", "estimate_wan_yuan", "measures",
                        *RESPONSIBILITY_FIELDS) if c in est]
    df = est[keep].copy()
    df["compound_id"] = df["compound_id"].astype(str)
    fcols = [str(c) for c in funding.projects if str(c).startswith("funding_")]
    df = df.merge(funding.projects[["compound_id", *fcols]], on="compound_id", how="left")
    if completeness is not None:
        df = df.merge(completeness.frame[["compound_id", "missing", "complete"]]
                      .astype({"compound_id": str}), on="compound_id", how="left")
    return to_chinese(df, _funding_headers(df.columns, funding_sources(funding)))


def funding_sources(funding: FundingResult) -> dict[str, dict[str, str]] | None:
    """Return the funding sources used (from the funded items)."""
    it = funding.items
    if not len(it):
        return None
    return {s: {"zh": z} for s, z in zip(it["source"], it["source_zh"], strict=True)}


def funding_project_sheet(funding: FundingResult) -> pd.DataFrame:
    """资金来源（项目）: one row per project, one column per source."""
    df = funding.projects
    return to_chinese(df, _funding_headers(df.columns, funding_sources(funding)))


def funding_bundle_sheet(funding: FundingResult) -> pd.DataFrame:
    """资金来源（片区）: per bundle, with the shared trench and the joint saving."""
    df = funding.bundles
    b = funding.estimate.bundles
    if b is not None and len(df):
        df = df.merge(b[["bundle_id", "compounds", "shared_trench_m", "joint_saving_wan_yuan",
                         "estimate_joint_wan_yuan"]], on="bundle_id", how="left")
    return to_chinese(df, _funding_headers(df.columns, funding_sources(funding)))


def funding_reconciliation_sheet(funding: FundingResult) -> pd.DataFrame:
    """资金来源核对: planned vs stated per budget line, and the calibration factor."""
    df = funding.reconciliation.copy()
    cal = funding.estimate.calibration
    df.loc[len(df)] = {"stated_source": "calibration",
                       "stated_zh": "校准系数（批复总投资÷单价测算）",
                       "stated_wan_yuan": cal.get("stated_wan_yuan"),
                       "planned_wan_yuan": cal.get("raw_wan_yuan"),
                       "difference_wan_yuan": None, "sources": f"× {cal.get('factor')}"}
    return to_chinese(df)


def contact_points_sheet(result: ContactPointResult, *, selected_only: bool = False
                         ) -> pd.DataFrame:
    """联系点: candidates per county with scores, explanation and overrides."""
    df = result.frame
    if selected_only:
        df = df[df["selected"]]
    return to_chinese(df.drop(columns=[c for c in ("geometry",) if c in df]))


def waste_points_sheet(result: WastePointResult) -> pd.DataFrame:
    """垃圾分类设施: proposed 清洁小屋 and 垃圾分类亭 with the compounds they serve."""
    df = pd.DataFrame(result.points.drop(columns="geometry"))
    return to_chinese(df.drop(columns=[c for c in ("kind",) if c in df]))


def evaluation_sheet(result: EvaluationResult) -> pd.DataFrame:
    """考核评价: per county the inspection scores, components, weighted score and rank."""
    extra = {}
    for k, v in result.weights.inspections.items():
        extra[f"{k}_score"] = f"{v.get('zh', k)}得分"
        for c, cs in result.weights.components.items():
            extra[f"{k}_{c}"] = f"{v.get('zh', k)}：{cs.get('zh', c)}（%）"
    return to_chinese(result.frame, extra)


# ----------------------------------------------------------------- sheets from the store

#: store layers the sheets below read (written by ``gisplan estimate``, ``contact-points``,
#: ``waste-points`` and ``evaluate``)
STORED_LAYERS = ("estimates", "estimate_bundles", "funding", "funding_bundles",
                 "funding_reconciliation", "contact_points", "waste_points", "evaluation")


def funding_headers(columns: Any) -> dict[str, str]:
    """Chinese headers of the ``funding_<source>_wan_yuan`` columns (default rule names).

    A source the default rules do not name keeps its key: ``funding_x_wan_yuan`` ->
    ``x（万元）``.

    Examples
    --------
    >>> for k, v in funding_headers(["funding_central_subsidy_wan_yuan",
    ...                              "funding_x_wan_yuan"]).items():
    ...     print(k, v)
    funding_central_subsidy_wan_yuan 中央财政城镇保障性安居工程补助资金（万元）
    funding_x_wan_yuan x（万元）
    """
    from gisplan.funding import load_funding_rules

    known = load_funding_rules().sources
    out = {}
    for c in map(str, columns):
        if c.startswith("funding_") and c.endswith("_wan_yuan") and c != "funding_total_wan_yuan" \
                and c != "funding_gap_wan_yuan":
            key = c[len("funding_"):-len("_wan_yuan")]
            out[c] = f"{known.get(key, {}).get('zh', key)}（万元）"
    return out


def _items_zh(values: pd.Series) -> pd.Series:
    """``water_supply;drainage`` -> ``供水、排水`` (an unknown item keeps its text)."""
    from gisplan.schema import vocab

    names = {k: v.zh for k, v in vocab("item").items()}
    return values.map(lambda s: s if not isinstance(s, str) else "、".join(
        names.get(i, i) for i in s.split(";") if i))


def stored_project_list(estimates: pd.DataFrame, funding: pd.DataFrame | None = None,
                        compounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """项目清单 from stored tables: content, estimate, funding split, responsible units.

    Canonical column names (see :data:`HEADERS`); responsibility columns and 保障措施
    come from *compounds* when the estimates do not carry them.

    Examples
    --------
    >>> est = pd.DataFrame({"compound_id": ["A"], "name": ["信合小区"], "county": ["魏都区"],
    ...                     "items": ["water_supply;roads"], "estimate_wan_yuan": [12.5]})
    >>> comp = pd.DataFrame({"compound_id": ["A"], "builder_unit": ["区住建局"]})
    >>> stored_project_list(est, compounds=comp).to_dict("records")[0]["builder_unit"]
    '区住建局'
    >>> stored_project_list(est)["items"].tolist()
    ['供水、道路']
    """
    keep = [c for c in ("compound_id", "name", "county", "bundle_id", "households",
                        "floor_area_m2", "items", "estimate_wan_yuan") if c in estimates]
    df = pd.DataFrame(estimates[keep]).assign(compound_id=lambda d: d["compound_id"].astype(str))
    if "items" in df:
        df["items"] = _items_zh(df["items"])
    extra = [c for c in ("measures", *RESPONSIBILITY_FIELDS) if c in estimates]
    df = df.join(pd.DataFrame(estimates[extra]).set_axis(df.index)) if extra else df
    if compounds is not None:
        more = [c for c in ("measures", *RESPONSIBILITY_FIELDS) if c in compounds and c not in df]
        if more:
            add = pd.DataFrame(compounds[["compound_id", *more]]).astype({"compound_id": str})
            df = df.merge(add.drop_duplicates("compound_id"), on="compound_id", how="left")
    for c in ("measures", *RESPONSIBILITY_FIELDS):  # shown blank, to be filled in
        if c not in df:
            df[c] = None
    if funding is not None:
        fcols = [c for c in funding.columns if str(c).startswith("funding_")]
        add = pd.DataFrame(funding[["compound_id", *fcols]]).astype({"compound_id": str})
        df = df.merge(add.drop_duplicates("compound_id"), on="compound_id", how="left")
    return df


def stored_funding_bundles(funding_bundles: pd.DataFrame,
                           estimate_bundles: pd.DataFrame | None = None) -> pd.DataFrame:
    """资金来源（片区）from stored tables, with the shared trench and the joint saving."""
    df = pd.DataFrame(funding_bundles)
    cols = ["bundle_id", "compounds", "shared_trench_m", "joint_saving_wan_yuan",
            "estimate_joint_wan_yuan"]
    if estimate_bundles is not None and len(df):
        eb = pd.DataFrame(estimate_bundles)[[c for c in cols if c in estimate_bundles]]
        df = df.merge(eb, on="bundle_id", how="left")
    return df


def stored_reconciliation(reconciliation: pd.DataFrame,
                          calibration: dict[str, Any] | None = None) -> pd.DataFrame:
    """资金来源核对 from the stored table, with the calibration factor as a last row."""
    df = pd.DataFrame(reconciliation).copy()
    if calibration:
        df.loc[len(df)] = {"stated_source": "calibration",
                           "stated_zh": "校准系数（批复总投资÷单价测算）",
                           "stated_wan_yuan": calibration.get("stated_wan_yuan"),
                           "planned_wan_yuan": calibration.get("raw_wan_yuan"),
                           "difference_wan_yuan": None,
                           "sources": f"× {calibration.get('factor')}"}
    return df


def evaluation_headers(columns: Any) -> dict[str, str]:
    """Chinese headers of the per-inspection columns of the ``evaluation`` table.

    Examples
    --------
    >>> for k, v in evaluation_headers(["mid_year_score",
    ...                                 "year_end_completed_households"]).items():
    ...     print(k, v)
    mid_year_score 年中检查验收（7月）得分
    year_end_completed_households 年终检查验收（12月）：完工率（按户数）（%）
    """
    from gisplan.evaluation import load_evaluation_weights

    w = load_evaluation_weights()
    out = {}
    for k, v in w.inspections.items():
        out[f"{k}_score"] = f"{v.get('zh', k)}得分"
        for c, cs in w.components.items():
            out[f"{k}_{c}"] = f"{v.get('zh', k)}：{cs.get('zh', c)}（%）"
    return {c: out[c] for c in map(str, columns) if c in out}
