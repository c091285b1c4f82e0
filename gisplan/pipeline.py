"""The whole analysis of one programme, as named steps (``gisplan run``).

check 数据检查 → join 空间关联 → bundle 连片打包 → coverage 设施覆盖 → progress 进度状态
→ report 报表 → maps 地图 → export 导出 (GeoParquet of the result layers).

Each step is a function ``step(project, ctx) -> dict`` of figures (numbers a provincial
office adds up: compounds, bundles, compounds with gaps, ...) that writes its results into
the programme store, as the command of the same name does. :func:`run_step` runs one step
on a store *path* and never raises: a failure comes back as a :class:`StepResult` with
``ok=False`` and the message, so that one city that fails does not take the others down.
The same functions run in one process (``gisplan run``) and on dask workers
(``gisplan run --workers N``); they take and return only picklable values.

Examples
--------
>>> STEPS
('check', 'join', 'bundle', 'coverage', 'progress', 'report', 'maps', 'export')
>>> STEP_ZH["coverage"]
'设施覆盖'
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from gisplan._errors import GisplanError

__all__ = [
    "RESULT_LAYERS",
    "RUN_DETAIL_CELLS",
    "RUN_MAPS",
    "RUN_PREVIEW_ROWS",
    "STEPS",
    "STEP_ZH",
    "RunContext",
    "Step",
    "StepResult",
    "run_programme",
    "run_step",
]

Step = Literal["check", "join", "bundle", "coverage", "progress", "report", "maps", "export"]
#: The steps, in the order they run.
STEPS: tuple[Step, ...] = ("check", "join", "bundle", "coverage", "progress", "report",
                           "maps", "export")
#: Chinese name of each step.
STEP_ZH: dict[str, str] = {"check": "数据检查", "join": "空间关联", "bundle": "连片打包",
                           "coverage": "设施覆盖", "progress": "进度状态", "report": "报表",
                           "maps": "地图", "export": "导出"}
#: Layers the export step writes as GeoParquet (when the store holds them).
RESULT_LAYERS: tuple[str, ...] = ("compounds", "join_districts", "bundles", "bundle_members",
                                  "bundle_standalone", "coverage_gaps", "coverage_summary")


#: A run's workbook (one per city) is a workbook of summaries: a table of more cells than
#: this (a city's 设施缺口, one row and 71 columns a compound; its 连片项目) is written in
#: full as CSV beside it, its sheet keeping the first :data:`RUN_PREVIEW_ROWS` rows. The
#: same rows are in the run's GeoParquet (``export``). Writing them as cells was three
#: quarters of a national run's report time (openpyxl then, ~40 µs a cell; the report's
#: XlsxWriter sheets now take ~8 µs).
RUN_DETAIL_CELLS = 20_000
#: Rows such a table keeps in its sheet in a run's workbook.
RUN_PREVIEW_ROWS = 100


@dataclass(frozen=True)
class RunContext:
    """Where one programme's run writes its files, and how.

    Attributes
    ----------
    out : Path
        Output folder: ``reports/<city>_report.xlsx``, ``maps/<city>_<kind>.html``,
        ``parquet/<layer>/city=<city>/part.0.parquet``.
    city : str
        The city code (a national programme) or the store's file stem.
    detail_cells : int or None, default RUN_DETAIL_CELLS
        Report tables of more cells go in full to CSV beside the workbook
        (:func:`gisplan.report.write_xlsx`); None: every table whole in the workbook.
    """

    out: Path
    city: str
    detail_cells: int | None = RUN_DETAIL_CELLS


@dataclass
class StepResult:
    """What one step did on one programme.

    Attributes
    ----------
    city, step : str
    ok : bool
        False when the step failed or was skipped because an earlier step failed.
    seconds : float
    figures : dict
        Numbers of the step (compounds, bundles, ...); empty when it failed.
    error : str or None
        One line saying what failed (None when ``ok``).
    peak_mb : float
        Peak resident memory of the process that ran it (MB), for benchmarks.
    """

    city: str
    step: str
    ok: bool
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    peak_mb: float = 0.0


def _peak_mb() -> float:
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1e6 if sys.platform == "darwin" else rss / 1e3


# ------------------------------------------------------------------ the steps


def check(project: Any, ctx: RunContext) -> dict[str, Any]:
    """Validate and reconcile (``gisplan check``); rows in = rows out per layer."""
    from gisplan.reconcile import reconcile
    from gisplan.validate import validate_project

    report = validate_project(project).merge(reconcile(project))
    counts = report.counts_frame()
    if "compounds" not in project.layers():
        raise GisplanError(f"{project.path}: the programme has no 'compounds' layer")
    return {"compounds": len(project.read("compounds")),
            "errors": len(report.errors), "warnings": len(report.warnings),
            "rows_balanced": bool(counts["balanced"].all()) if len(counts) else True}


def join(project: Any, ctx: RunContext) -> dict[str, Any]:
    """Join compounds to districts, utilities and facilities (``gisplan join``)."""
    from gisplan.join import join_project

    out = join_project(project)
    jd = out.tables.get("join_districts")
    flags = jd["flags"].fillna("").astype(str) if jd is not None else None
    return {"outside_districts": int(flags.str.contains("outside_districts").sum())
            if flags is not None else 0,
            "shared_lines": len(out.tables.get("shared_lines", ()))}


def bundle(project: Any, ctx: RunContext) -> dict[str, Any]:
    """Bundle neighbouring compounds (``gisplan bundle``); members + standalone = compounds."""
    from gisplan.bundle import bundle_project

    res = bundle_project(project)
    return {"bundles": len(res.bundles), "bundled": int(res.members["compound_id"].nunique()),
            "standalone": len(res.standalone)}


def coverage(project: Any, ctx: RunContext) -> dict[str, Any]:
    """Facility coverage by walking distance (``gisplan coverage``), written to the store."""
    from gisplan.coverage import coverage_project

    res = coverage_project(project)
    res.to_store(project)
    return {"with_gaps": int((res.compounds["n_gaps"] > 0).sum()), "method": res.method}


def progress(project: Any, ctx: RunContext) -> dict[str, Any]:
    """Progress status at the latest report (``gisplan progress status``)."""
    from gisplan.progress import milestone_status, progress_summary, read_log, to_dates

    log = read_log(project)
    comp = project.read("compounds")
    dates = [d for d in to_dates(log["date"]) if d is not None] if len(log) else []
    if not dates:
        return {"as_of": None, "planned": 0, "started": 0, "completed": 0, "behind": 0}
    day = max(dates)
    summ = progress_summary(comp, log, as_of=day, by="county")
    ms = milestone_status(comp, log, project.meta.get("milestones") or [], as_of=day,
                          start=project.meta.get("start_date"), by="county")
    behind = ms[(ms["unit"] != "合计") & (ms["state"] == "behind")] if len(ms) else ms
    total = summ[summ["unit"] == "合计"]  # the programme row of the county table
    return {"as_of": day.isoformat(), "planned": int(total["compounds_planned"].sum()),
            "started": int(total["compounds_started"].sum()),
            "completed": int(total["compounds_completed"].sum()),
            "behind": len(behind)}


def report(project: Any, ctx: RunContext) -> dict[str, Any]:
    """Write the Excel report (``gisplan report``) to ``<out>/reports/<city>_report.xlsx``."""
    from gisplan.report import write_report

    files = write_report(project, ctx.out / "reports" / f"{ctx.city}_report.xlsx",
                         detail_cells=ctx.detail_cells, preview_rows=RUN_PREVIEW_ROWS)
    return {"files": [str(f) for f in files]}


#: The maps the run makes per programme: the two a provincial / national office reads.
#: 进度 (progress: started / completed against the year's targets) is what it supervises
#: and reports upward; 设施缺项 (gaps: compounds lacking a facility within walking
#: distance) is what inspections check (the 补短板 items). 连片打包 (bundles) and 管线
#: (utilities) are the city's own engineering plans: ``gisplan map`` makes them, and the
#: atlas, per city when it needs them. Maps were 48 % of a national run with all four.
RUN_MAPS: tuple[str, ...] = ("progress", "gaps")


def maps(project: Any, ctx: RunContext) -> dict[str, Any]:
    """Write the maps of :data:`RUN_MAPS` (``gisplan map``) to ``<out>/maps/``."""
    from gisplan.maps import MapKind, make_map, save_map

    files = []
    for kind in RUN_MAPS:
        path = ctx.out / "maps" / f"{ctx.city}_{kind}.html"
        save_map(make_map(project, cast("MapKind", kind)), path)
        files.append(path)
    return {"maps_mb": round(sum(p.stat().st_size for p in files) / 1e6, 2)}


def export(project: Any, ctx: RunContext) -> dict[str, Any]:
    """Write the result layers as GeoParquet partitioned by city (the exchange format)."""
    from gisplan.parquet import write_partition

    present = set(project.layers())
    rows = {}
    for layer in RESULT_LAYERS:
        if layer in present:
            frame = project.read(layer)
            write_partition(frame, ctx.out / "parquet" / layer, city=ctx.city)
            rows[layer] = len(frame)
    return {"rows": rows}


_FUNCS: dict[str, Callable[[Any, RunContext], dict[str, Any]]] = {
    "check": check, "join": join, "bundle": bundle, "coverage": coverage,
    "progress": progress, "report": report, "maps": maps, "export": export}


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, GisplanError):
        return str(exc).splitlines()[0]
    from gisplan.cli import _describe

    return _describe(exc).splitlines()[0]


def run_step(step: str, store: str | Path, ctx: RunContext,
             previous: StepResult | None = None) -> StepResult:
    """Run *step* on the programme at *store*; never raises.

    Parameters
    ----------
    step : str
        One of :data:`STEPS`.
    store : path
        The programme's GeoPackage.
    ctx : RunContext
    previous : StepResult, optional
        The step before; when it failed this step is skipped (``ok=False``, ``error``
        names the step that failed). None: no step before.

    Returns
    -------
    StepResult
    """
    if previous is not None and not previous.ok:
        why = previous.error if previous.error and previous.error.startswith("skipped") \
            else f"skipped: {previous.step} failed"
        return StepResult(ctx.city, step, False, 0.0, error=why)
    t0 = time.perf_counter()
    try:
        from gisplan.store import Project

        figures = _FUNCS[step](Project.open(store), ctx)
        ok, error = True, None
    except Exception as exc:  # a failing city is reported, the others go on
        figures, ok, error = {}, False, _one_line(exc)
        if not isinstance(exc, GisplanError):  # where a bug is, for the lead to find
            error += f" [{traceback.extract_tb(exc.__traceback__)[-1].name}]"
    return StepResult(ctx.city, step, ok, time.perf_counter() - t0, figures, error,
                      _peak_mb())


def run_programme(store: str | Path, ctx: RunContext, *,
                  steps: Sequence[str] = STEPS,
                  on_step: Callable[[StepResult], Any] | None = None) -> list[StepResult]:
    """Run *steps* in order on one programme; a failed step skips the rest.

    Examples
    --------
    >>> import shutil, tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = shutil.copy("layers/guyuan_2022.gpkg", tmp / "g.gpkg")
    >>> res = run_programme(tmp / "g.gpkg", RunContext(tmp / "out", "g"),
    ...                     steps=["check", "join", "bundle"])
    >>> [(r.step, r.ok) for r in res]
    [('check', True), ('join', True), ('bundle', True)]
    """
    results: list[StepResult] = []
    previous = None
    for step in steps:
        previous = run_step(step, store, ctx, previous)
        results.append(previous)
        if on_step is not None:
            on_step(previous)
    return results
