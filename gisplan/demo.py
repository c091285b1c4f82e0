"""The main job on the embedded sample programmes (``gisplan demo``).

For each sample programme in ``layers/`` the demo works on a private copy under
``build/demo/`` (the committed samples are never written), and runs what a city office
would run: check the data, join compounds to districts, utilities and facilities,
bundle neighbours into joint projects, measure facility coverage by walking distance,
derive progress as of the programme's reporting date, estimate costs and funding
(联系点, waste points and the county evaluation too), write the Excel report and
publish the HTML maps into ``maps/``.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from gisplan.maps import MapKind

SAMPLE_FILES = ("guyuan_2022.gpkg", "xuchang_2023.gpkg", "huaian_2023.gpkg")


@dataclass
class StepResult:
    """Outcome of one step of the demo on one programme."""

    programme: str
    step: str
    seconds: float
    summary: str
    ok: bool = True


@dataclass
class DemoResult:
    """Everything the demo did: steps, files written."""

    steps: list[StepResult] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every step succeeded."""
        return all(s.ok for s in self.steps)


def _timed(
    result: DemoResult, programme: str, step: str, fn: Callable[[], str],
    echo: Callable[[str], Any],
) -> None:
    t0 = time.perf_counter()
    try:
        summary = fn()
        ok = True
    except Exception as exc:  # the demo reports every failure and goes on
        summary = f"FAILED: {type(exc).__name__}: {exc}"
        ok = False
    dt = time.perf_counter() - t0
    result.steps.append(StepResult(programme, step, dt, summary, ok))
    echo(f"  {step:<10} {dt:6.2f} s  {summary}")


def _check(project: Any) -> str:
    from gisplan.reconcile import reconcile
    from gisplan.validate import validate_project

    report = validate_project(project).merge(reconcile(project))
    counts = report.counts_frame()
    balanced = bool(counts["balanced"].all()) if len(counts) else True
    mismatches = len(report.by_code("total_mismatch"))
    dupes = len(report.by_code("near_duplicate_name"))
    return (f"errors {len(report.errors)}, warnings {len(report.warnings)}; "
            f"stated totals not adding up 合计不符: {mismatches}, "
            f"names spelled two ways 名称不一: {dupes}; "
            f"rows in = rows out: {'yes' if balanced else 'NO'}")


def _join(project: Any) -> str:
    from gisplan.join import join_project

    out = join_project(project)
    parts = [f"{name} {len(frame):,}" for name, frame in out.tables.items()]
    return "tables " + ", ".join(parts)


def _bundle(project: Any) -> str:
    from gisplan.bundle import bundle_project

    res = bundle_project(project)
    return (f"{len(res.bundles)} bundles 连片项目 from {len(res.members)} compounds, "
            f"{len(res.standalone)} standalone with a reason")


def _coverage(project: Any) -> str:
    from gisplan.coverage import coverage_project

    res = coverage_project(project)
    res.to_store(project)
    n = len(res.compounds)
    with_gaps = int((res.compounds["n_gaps"] > 0).sum())
    return f"{n} compounds × {res.coverage['facility_type'].nunique()} types by {res.method}; " \
           f"{with_gaps} compounds with at least one gap"


def _progress(project: Any) -> str:
    from gisplan.progress import milestone_status, read_log

    log = read_log(project)
    if log.empty:
        return "no progress log"
    as_of = log["date"].max()
    ms = milestone_status(project.read("compounds"), log, project.meta.get("milestones", []),
                          as_of=as_of, by=None)
    states = ", ".join(f"{r.get('zh', r.get('key'))}: {r['state']}" for r in ms.to_dict("records"))
    return f"as of {as_of}: {states or 'no milestones'}"


def _money(project: Any) -> str:
    """Estimate, funding, 联系点 (where the plan sets counts), waste points, evaluation."""
    from gisplan._errors import InputError
    from gisplan.contact_points import contact_points_project
    from gisplan.evaluation import evaluate_project
    from gisplan.funding import funding_project
    from gisplan.waste_points import waste_points_project

    fund = funding_project(project)  # calibrated when the programme states its total
    layers = {**fund.estimate.layers(), **fund.layers(),
              "waste_points": waste_points_project(project).points,
              "evaluation": evaluate_project(project).frame}
    with contextlib.suppress(InputError):  # InputError: the plan sets no 联系点 counts
        layers["contact_points"] = contact_points_project(project).frame
    project.write_many(layers, meta_updates={"estimate_calibration": fund.estimate.calibration})
    total = float(fund.estimate.compounds["estimate_wan_yuan"].sum())
    return f"estimate {total:,.2f}万元; wrote {len(layers)} layers"


def _report(project: Any, out: Path, result: DemoResult) -> str:
    from gisplan.report import write_report

    result.files.extend(write_report(project, out))
    return f"wrote {out}"


def _maps(project: Any, out_dir: Path, stem: str, result: DemoResult) -> str:
    """Write the four theme maps, the 一张图 atlas of all four, and QGIS styles in the store."""
    from gisplan.maps import KINDS, make_map, save_atlas, save_map
    from gisplan.qgis_styles import write_layer_styles

    files = []
    for kind in KINDS:
        path = out_dir / f"{stem}_{kind}.html"
        save_map(make_map(project, cast("MapKind", kind)), path)
        files.append(path)
    files.append(save_atlas(project, out_dir / f"{stem}_atlas.html"))
    write_layer_styles(project)
    result.files.extend(files)
    size = sum(p.stat().st_size for p in files) / 1e6
    return (f"{len(files)} maps in {out_dir}/ ({size:.1f} MB, offline, atlas 一张图 included); "
            "QGIS styles in the store")


def run_demo(
    *,
    layers_dir: str | Path = "layers",
    work_dir: str | Path = "build/demo",
    maps_dir: str | Path = "maps",
    reports_dir: str | Path = "reports",
    echo: Callable[[str], Any] = print,
) -> DemoResult:
    """Run the main job on every sample programme in *layers_dir*.

    Parameters
    ----------
    layers_dir : path, default "layers"
        Where the sample programmes are; missing samples are built first.
    work_dir : path, default "build/demo"
        Where the private working copies go (the samples are never written).
    maps_dir, reports_dir : path
        Where the HTML maps and the Excel reports go.
    echo : callable
        Prints progress lines.

    Returns
    -------
    DemoResult
        Steps with timings and summaries, and the files written.
    """
    from gisplan.store import Project

    layers_dir, work_dir = Path(layers_dir), Path(work_dir)
    maps_dir, reports_dir = Path(maps_dir), Path(reports_dir)
    for d in (work_dir, maps_dir, reports_dir):
        d.mkdir(parents=True, exist_ok=True)
    if not all((layers_dir / f).exists() for f in SAMPLE_FILES):
        from gisplan.samples import build_samples

        echo(f"building the sample programmes into {layers_dir}/")
        build_samples(layers_dir)
    result = DemoResult()
    for name in SAMPLE_FILES:
        stem = Path(name).stem
        work = work_dir / name
        shutil.copyfile(layers_dir / name, work)
        project = Project.open(work)
        echo(f"{stem}: {project.meta.get('name', stem)}")
        steps: list[tuple[str, Callable[[], str]]] = [
            ("check", partial(_check, project)),
            ("join", partial(_join, project)),
            ("bundle", partial(_bundle, project)),
            ("coverage", partial(_coverage, project)),
            ("progress", partial(_progress, project)),
            ("money", partial(_money, project)),
            ("report", partial(_report, project, reports_dir / f"{stem}_report.xlsx", result)),
            ("maps", partial(_maps, project, maps_dir, stem, result)),
        ]
        for step, fn in steps:
            _timed(result, stem, step, fn, echo)
    return result
