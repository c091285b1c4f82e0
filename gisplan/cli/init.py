"""``gisplan init STORE.gpkg``: create a programme 新建项目 (or write a programme-file template)."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan._errors import InputError
from gisplan.cli._options import NEW_PROGRAMME
from gisplan.sources import StoreURL


@click.command("init")
@click.argument("store", required=False, type=NEW_PROGRAMME)
@click.option("--name", help="Programme name 项目名称, e.g. 许昌市2024年城镇老旧小区改造.")
@click.option("--city", help="City 城市, e.g. 许昌市.")
@click.option("--year", help="Plan year 计划年度, e.g. 2024.")
@click.option("--programme", "programme_file",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Programme file 项目设置文件 (TOML): counties 县区, milestones 里程碑, start "
                   "criteria 开工条件, budget 资金, rule set 规则集, bundling 连片打包. "
                   "--name/--city/--year override its [programme] values.")
@click.option("--template", "template_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a commented example programme file 项目设置模板 to edit, and stop.")
def init(store: Path | None, name: str | None, city: str | None, year: str | None,
         programme_file: Path | None, template_out: Path | None) -> None:
    """Create the programme STORE (a new .gpkg) 新建项目.

    \b
    Examples 示例:
      gisplan init --template programme.toml          (commented example 设置模板)
      gisplan init 许昌2024.gpkg --programme programme.toml
      gisplan init 许昌2024.gpkg --name 许昌市2024年城镇老旧小区改造 --city 许昌市 --year 2024

    The layers are added later with `gisplan import` (blank Excel forms:
    `gisplan template compounds --out 小区清单.xlsx`). Nothing is written when the
    programme file has a problem: every problem is listed with its line, key and fix.
    """  # noqa: D301 - \b keeps click from rewrapping the examples
    if template_out is not None:
        _write_template(template_out)
        return
    if store is None:
        raise click.UsageError("give the programme file to create, e.g. "
                               "`gisplan init 我的项目.gpkg --name … --city … --year …`, or "
                               "--template programme.toml for an example programme file")
    _check_new_store(store)
    from gisplan.programme import default_rule_set, loads_programme, read_programme
    from gisplan.store import Project

    overrides = {k: v for k, v in (("name", name), ("city", city), ("year", year)) if v}
    prog = (read_programme(programme_file, overrides=overrides) if programme_file
            else loads_programme("", overrides=overrides))
    meta = dict(prog.meta)
    chosen = "rule_set" in meta
    meta.setdefault("rule_set", default_rule_set())
    Project.create(store, meta=meta)
    for finding in prog.report.findings:
        click.secho(str(finding), fg="yellow")
    click.echo(f"created 新建 programme {meta['name']} → {store}")
    click.echo(f"rule set 规则集: {meta['rule_set']}"
               + ("" if chosen else " (default 默认; choose another with rule_set = … in "
                  "the programme file)"))
    click.echo("next 下一步:\n"
               "  gisplan template compounds --out 小区清单.xlsx     (blank form 填报模板)\n"
               f"  gisplan import {store} 小区清单.xlsx --layer compounds\n"
               f"  gisplan programme show {store}")


def _write_template(out: Path) -> None:
    from gisplan.programme import template_text

    if out.exists():
        raise InputError("file exists; not overwritten", file=str(out),
                         hint="choose another name, or delete the file first")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} does not exist", file=str(out),
                         hint="create the folder first")
    out.write_text(template_text(), encoding="utf-8")
    click.echo(f"programme file template 项目设置模板 → {out}\n"
               f"edit it 编辑后, then 然后: gisplan init 我的项目.gpkg --programme {out}")


def _check_new_store(store: Path) -> None:
    """Refuse an existing file: a programme is changed with `programme set`, never replaced."""
    if not isinstance(store, StoreURL) and store.suffix.lower() != ".gpkg":
        raise InputError("a programme store is a GeoPackage (.gpkg)", file=str(store),
                         hint=f"name it e.g. {store.with_suffix('.gpkg').name}")
    if not store.exists():
        return
    from gisplan._errors import StoreError
    from gisplan.store import Project

    try:
        Project.open(store).meta  # noqa: B018 - reading it tells a programme from other files
    except StoreError:
        raise InputError(
            "file exists and is not a gisplan programme; not overwritten", file=str(store),
            hint="create the programme under a new name, then bring the layers in with "
                 f"`gisplan import NEW.gpkg {store} --layer compounds --source-layer …`"
        ) from None
    raise InputError(
        "the programme exists already; not overwritten", file=str(store),
        hint=f"change its settings with `gisplan programme set {store} FILE.toml` "
             "(or --set key=value), or choose a new file name")
