"""``gisplan demo``: the main job on the embedded sample programmes."""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command("demo")
@click.option("--layers", "layers_dir", default="layers", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Sample programmes 示例数据 (built when missing).")
@click.option("--work", "work_dir", default="build/demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Working copies (the samples are never written).")
@click.option("--maps", "maps_dir", default="maps", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="HTML maps 地图.")
@click.option("--reports", "reports_dir", default="reports", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Excel reports 报表.")
def demo(layers_dir: Path, work_dir: Path, maps_dir: Path, reports_dir: Path) -> None:
    """Run the whole job on the sample programmes 演示.

    For Guyuan 2022, Xuchang 2023 and Huai'an 2023: check 数据检查, join 空间关联,
    bundle 连片打包, coverage 设施覆盖, progress 进度, report 报表 and maps 地图.
    """
    from gisplan.demo import run_demo

    t0 = time.perf_counter()
    result = run_demo(layers_dir=layers_dir, work_dir=work_dir, maps_dir=maps_dir,
                      reports_dir=reports_dir, echo=click.echo)
    dt = time.perf_counter() - t0
    failed = [s for s in result.steps if not s.ok]
    click.echo(f"\n{len(result.steps)} steps in {dt:.1f} s; {len(result.files)} files written:")
    for f in result.files:
        click.echo(f"  {f}")
    if failed:
        names = ", ".join(f"{s.programme}/{s.step}" for s in failed)
        raise click.ClickException(f"{len(failed)} step(s) failed: {names}")
