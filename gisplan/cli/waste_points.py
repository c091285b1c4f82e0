"""``gisplan waste-points STORE``: propose 清洁小屋 and shared 垃圾分类亭."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import PROGRAMME


@click.command("waste-points")
@click.argument("project", type=PROGRAMME)
@click.option("--rules", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A city's own rules (TOML like data/waste_points.toml).")
@click.option("--no-write", is_flag=True, help="Do not write the waste_points layer.")
def waste_points(project: Path, rules: Path | None, no_write: bool) -> None:
    """Propose waste sorting facilities 垃圾分类设施.

    A cleaning house 清洁小屋 in each compound above the size threshold; shared sorting
    kiosks 垃圾分类亭 per 片区 for the small ones, sited on the walking network within the
    standard's distance. Writes the layer waste_points.
    """
    from rich.console import Console

    from gisplan.cli.estimate import print_findings
    from gisplan.sources import as_project
    from gisplan.waste_points import waste_points_project

    p = as_project(project)
    res = waste_points_project(p, rules=rules)
    print_findings(res.report)
    n = res.points["kind"].value_counts().to_dict() if len(res.points) else {}
    far = int((~res.compounds["within_standard"]).sum())
    Console().print(f"清洁小屋 cleaning houses: {n.get('cleaning_house', 0)}; 垃圾分类亭 kiosks: "
                    f"{n.get('kiosk', 0)}; small compounds beyond the standard distance "
                    f"超出服务距离: {far}", highlight=False)
    if not no_write:
        p.write("waste_points", res.points)
