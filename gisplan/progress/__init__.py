"""The progress log (进度台账): import, status on a date, milestones and checks.

The ``progress_log`` table of a programme store is append-only: one row per reported
change. Nothing else stores a compound's stage: its status on any date is derived from
the log, the summaries by county and 片区 from that, and the milestones of the programme
from the summaries. The package has one module per concept:

=====================================  ==================================================
:mod:`gisplan.progress.log`            the log store: append-only table, content hash,
                                       :func:`read_log`, idempotent append
:mod:`gisplan.progress.importing`      county reports into log rows (:func:`import_reports`,
                                       :func:`prepare_log`)
:mod:`gisplan.progress.matching`       which compound a report row means
                                       (:func:`match_compounds`)
:mod:`gisplan.progress.status`         status on a date, summaries by county / 片区
:mod:`gisplan.progress.milestones`     milestones met, on track or behind
:mod:`gisplan.progress.checks`         contradictions, start criteria, eligibility
:mod:`gisplan.progress.terms`          stages, the five start criteria, codes
:mod:`gisplan.progress.dates`          dates in any form in, :class:`datetime.date` out
=====================================  ==================================================

Every function accepts a date as a string (``2023-06-30``, ``2023年6月30日``,
``2023.6.30``), a :class:`datetime.date` or a :class:`pandas.Timestamp`, and returns dates
as :class:`datetime.date` objects (None where missing), as the store reads them.

Examples
--------
>>> import pandas as pd
>>> from gisplan.progress import compound_status
>>> log = pd.DataFrame({"compound_id": ["A", "A", "B"],
...                     "date": ["2023-03-01", "2023-05-10", "2023-04-01"],
...                     "stage": ["designed", "started", "tendered"]})
>>> compound_status(log, as_of="2023-04-30")["stage"].tolist()
['designed', 'tendered']
"""

from __future__ import annotations

from gisplan.progress.checks import PROBLEM_COLUMNS, check_compounds, check_log
from gisplan.progress.dates import DateLike, as_date, require_date, to_dates
from gisplan.progress.importing import ImportResult, PreparedLog, import_reports, prepare_log
from gisplan.progress.log import ImportStatus, append_new, read_log, row_hashes
from gisplan.progress.matching import MatchKind, match_compounds
from gisplan.progress.milestones import (
    MILESTONE_STATES_ZH,
    MilestoneState,
    measure_zh,
    milestone_state,
    milestone_status,
    parse_measure,
)
from gisplan.progress.status import (
    PlanScope,
    compound_status,
    plan_scope,
    progress_series,
    progress_summary,
)
from gisplan.progress.terms import (
    CODES_ZH,
    CONSENT_MIN,
    CRITERIA_ZH,
    STAGES,
    START_CRITERIA,
    Level,
)

__all__ = [
    "CODES_ZH",
    "CONSENT_MIN",
    "CRITERIA_ZH",
    "MILESTONE_STATES_ZH",
    "PROBLEM_COLUMNS",
    "STAGES",
    "START_CRITERIA",
    "DateLike",
    "ImportResult",
    "ImportStatus",
    "Level",
    "MatchKind",
    "MilestoneState",
    "PlanScope",
    "PreparedLog",
    "append_new",
    "as_date",
    "check_compounds",
    "check_log",
    "compound_status",
    "import_reports",
    "match_compounds",
    "measure_zh",
    "milestone_state",
    "milestone_status",
    "parse_measure",
    "plan_scope",
    "prepare_log",
    "progress_series",
    "progress_summary",
    "read_log",
    "require_date",
    "row_hashes",
    "to_dates",
]
