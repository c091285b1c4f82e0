"""The terms of the progress log: stages in order, the five start criteria, the codes.

Start criteria (开工认定标准, 许昌市2023年实施方案 附件)
-------------------------------------------------------
1. ≥ 80 % of residents agree with the plan and the property-management model
   (``consent_rate``); 2. illegal and temporary structures removed
   (``structures_removed``); 3. design finished and posted in the compound
   (``design_posted``); 4. contractor chosen and contract signed (``contract_signed``);
5. crew on site with visible progress (``crew_on_site``). A criterion reported on an
   earlier row holds until reported otherwise (forward fill per compound).

Examples
--------
>>> STAGES.index("started") == RANK["started"] == STARTED
True
>>> CRITERIA_ZH[START_CRITERIA[0]]
'居民同意率≥80%'
"""

from __future__ import annotations

from typing import Literal

from gisplan.schema import stage_order

__all__ = [
    "BOOL_CRITERIA",
    "CODES_ZH",
    "COMPLETED",
    "CONSENT_MIN",
    "CRITERIA_ZH",
    "RANK",
    "STAGES",
    "STARTED",
    "START_CRITERIA",
    "Level",
]

#: the five start criteria of 许昌 (开工认定标准), in the order of the document
START_CRITERIA: tuple[str, ...] = (
    "consent_rate", "structures_removed", "design_posted", "contract_signed", "crew_on_site",
)
#: the four yes/no criteria (all but the consent rate)
BOOL_CRITERIA: tuple[str, ...] = START_CRITERIA[1:]
#: smallest consent rate for a start: "经80%以上居民同意后方可开工改造" (许昌 2023, 三(二))
CONSENT_MIN = 0.8
CRITERIA_ZH: dict[str, str] = {
    "consent_rate": "居民同意率≥80%",
    "structures_removed": "违建已拆除",
    "design_posted": "设计已公示",
    "contract_signed": "已签施工合同",
    "crew_on_site": "施工队伍进场",
}

#: the stages of ``[vocab.stage]`` in order; a compound's rank is its index here
STAGES: tuple[str, ...] = tuple(stage_order())
RANK: dict[str, int] = {s: i for i, s in enumerate(STAGES)}
STARTED = RANK["started"]
COMPLETED = RANK["completed"]

#: the level a summary groups by: county (县区) or 片区
Level = Literal["county", "district"]

#: Chinese text of the codes the progress package writes into ``flags`` and findings
CODES_ZH: dict[str, str] = {
    "compound_unknown": "小区名称无法匹配",
    "compound_ambiguous": "小区名称匹配不唯一",
    "name_fuzzy_matched": "小区名称近似匹配",
    "unit_without_geometry": "填报单位无空间数据",
    "unknown_county": "县区名称无法识别",
    "unparseable_date": "日期无法识别",
    "unparseable_stage": "进度阶段无法识别",
    "unparseable_consent": "同意率无法识别",
    "unparseable_criterion": "开工条件无法识别",
    "future_date": "填报日期晚于录入日期",
    "stage_backwards": "进度倒退",
    "completion_before_start": "完工早于开工",
    "completed_without_start": "完工但无开工记录",
    "start_criteria_unmet": "不符合开工认定标准",
    "start_criteria_unknown": "开工条件未填报",
    "design_items_missing": "设计方案缺项",
    "eligibility": "不符合改造条件",
    "cap_2001_2005_exceeded": "2001—2005年建成小区户数占比超15%",
}
