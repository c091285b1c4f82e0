"""``gisplan run STORE``: the whole analysis, city by city (全流程分析)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from gisplan.pipeline import RUN_DETAIL_CELLS, STEP_ZH, STEPS


@click.command("run")
@click.argument("store", type=click.Path(exists=True, path_type=Path))
@click.option("--workers", type=click.IntRange(min=1, max=256), default=None,
              help="Run the cities on a local dask cluster of N worker processes "
                   "本机并行进程数 (loopback only).")
@click.option("--scheduler", default=None,
              help="Address of an existing dask scheduler 集群调度器地址, e.g. "
                   "tcp://10.0.0.5:8786 (stores and --out on a shared file system).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder 输出目录: reports, maps, GeoParquet by city, and the full "
                   "tables cities.csv / steps.csv (default: STORE_run beside STORE).")
@click.option("--skip", "skip", multiple=True, type=click.Choice(list(STEPS)),
              help="Leave out a step 跳过步骤 (repeat the option), e.g. --skip maps.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Cities shown in the summary 显示城市数.")
@click.option("--detail-cells", "detail_cells", type=click.IntRange(min=0), default=None,
              help="Report tables of more cells than N go in full to CSV beside each "
                   "city's workbook 明细表另存CSV的单元格数 (default "
                   f"{RUN_DETAIL_CELLS:,}; 0 keeps every table whole in the workbook).")
def run(store: Path, workers: int | None, scheduler: str | None,
        out: Path | None, skip: tuple[str, ...], limit: int,
        detail_cells: int | None) -> None:
    """Run the whole analysis 全流程 on a programme or a national programme folder.

    Steps 步骤: check 数据检查 → join 空间关联 → bundle 连片打包 → coverage 设施覆盖 →
    progress 进度状态 → report 报表 → maps 地图 → export 导出 (GeoParquet by city).
    Each city is analysed on its own; a city that fails is reported with the step and
    the reason and the others go on. One progress bar per step; a summary at the end.
    Exit status 0 when every city finished, 1 when some failed, 2 when none finished.

    Example 示例: gisplan run national/ --workers 2 --out build/national
    """
    from rich.console import Console

    from gisplan.national import run as run_all
    from gisplan.national import targets

    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    steps = [s for s in STEPS if s not in skip]
    out = out or store.with_name(store.stem + "_run")
    pairs = targets(store)
    con = Console(stderr=True)
    with _bars(con, steps, len(pairs)) as advance:
        result = run_all(store, out=out, steps=steps, workers=workers, scheduler=scheduler,
                         on_step=advance,
                         detail_cells=RUN_DETAIL_CELLS if detail_cells is None
                         else (detail_cells or None))
    _summary(Console(width=None if sys.stdout.isatty() else 120), result, out=out,
             limit=limit)
    if not result.finished:
        sys.exit(2)
    if result.failed:
        sys.exit(1)


class _bars:  # noqa: N801 - used as a context manager, reads as a phrase
    """One rich progress bar per step; the call advances the bar of a finished step."""

    def __init__(self, console: Any, steps: Sequence[str], n_cities: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(TextColumn("{task.description:<22}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[failed]}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.tasks = {s: self.progress.add_task(f"{s} {STEP_ZH[s]}", total=n_cities,
                                                failed="") for s in steps}
        self.failed = dict.fromkeys(steps, 0)

    def __enter__(self) -> Any:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, res: Any) -> None:
        if not res.ok:
            self.failed[res.step] += 1
        fail = self.failed[res.step]
        self.progress.update(self.tasks[res.step], advance=1,
                             failed=f"[red]{fail} failed 失败[/]" if fail else "")


def _summary(con: Any, result: Any, *, out: Path, limit: int) -> None:
    """Per-step timings, the cities (at most *limit*), failures, and the full tables."""
    from gisplan.cells import to_csv
    from gisplan.cli._output import print_frame
    from gisplan.national import SUMMARY, write_summary

    out.mkdir(parents=True, exist_ok=True)
    cities = result.cities_frame()
    steps = result.step_seconds()
    to_csv(cities, out / "cities.csv")
    to_csv(steps, out / "steps.csv")
    write_summary(result, out / SUMMARY)
    where = f"{out / 'cities.csv'}"
    steps["step"] = [f"{s} {STEP_ZH[s]}" for s in steps["step"]]
    print_frame(con, steps.rename(columns={"step": "step 步骤", "total_s": "seconds 秒",
                                           "max_city_s": "slowest city 最慢城市 s"}),
                title=f"Time by step 各步骤用时 ({result.engine})", limit=len(steps))
    show = [c for c in ("city", "name", "province", "status", "compounds", "errors",
                        "bundles", "with_gaps", "started", "completed", "behind") if c in cities]
    print_frame(con, cities[show], title="Cities 城市", limit=limit, where=where)
    failed = result.failed
    if failed:
        con.print(f"[bold red]failed 失败: {len(failed)} of {len(result.cities)} cities[/]")
        for city, why in list(failed.items())[:limit]:
            con.print(f"  {city}: {why}", markup=False, highlight=False)
        if len(failed) > limit:
            con.print(f"  … and {len(failed) - limit} more; full table in {where}")
    by = result.by_province()
    if len(by) > 1:
        if "compounds" in by:  # a province whose cities all failed at check counts 0
            by["compounds"] = by["compounds"].fillna(0)
        shown = [c for c in ("province", "cities", "compounds", "failed") if c in by]
        print_frame(con, by[shown].rename(columns={"province": "province 省"}),
                    title="By province 分省汇总", limit=limit, where=where)
    n = len(result.finished)
    total = int(cities["compounds"].sum()) if "compounds" in cities else 0
    con.print(f"finished 完成: {n} of {len(result.cities)} cities 城市, {total:,} compounds "
              f"小区; peak memory 峰值内存 per worker: "
              + ", ".join(f"{v:,.0f} MB" for v in result.workers.values()), highlight=False)
    con.print(f"outputs 输出 → {out}/ ({SUMMARY} 汇总表, reports, maps, "
              "parquet/<layer>/city=…, cities.csv, steps.csv)", highlight=False)
