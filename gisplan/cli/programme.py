"""``gisplan programme show|set STORE``: see and change a programme's settings 项目设置."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from gisplan._errors import InputError, StoreError
from gisplan.cli._options import PROGRAMME


def _open(store: Path) -> tuple[Any, dict[str, Any]]:
    """Return (project, metadata), or an error saying how to make STORE a programme."""
    from gisplan.store import Project

    try:
        project = Project.open(store)
        return project, project.meta
    except StoreError:
        raise InputError(
            "not a gisplan programme (no programme settings 项目设置 in it)", file=str(store),
            hint="create a programme with `gisplan init NEW.gpkg --name … --city … --year …` "
                 f"and bring the layers in with `gisplan import NEW.gpkg {store} --layer …`"
        ) from None


@click.group("programme")
def programme() -> None:
    """Programme settings 项目设置: show them, change them.

    \b
    gisplan programme show 项目.gpkg
    gisplan programme set 项目.gpkg programme.toml
    gisplan programme set 项目.gpkg --set year=2024 --set bundling.level=street
    """  # noqa: D301 - \b keeps click from rewrapping the examples


@programme.command("show")
@click.argument("store", type=PROGRAMME)
@click.option("--toml", "as_toml", is_flag=True,
              help="Print the settings as a programme file 项目设置文件 (TOML) to edit and "
                   "give back with `programme set`.")
def show(store: Path, as_toml: bool) -> None:
    """Print what is set for the programme STORE 查看项目设置."""
    from gisplan.programme import dumps_programme, format_programme, programme_doc

    _, meta = _open(store)
    if as_toml:
        click.echo(dumps_programme(programme_doc(meta)), nl=False)
    else:
        click.echo(format_programme(meta))


@programme.command("set")
@click.argument("store", type=PROGRAMME)
@click.argument("file", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change one setting 修改一项, e.g. year=2024, rule_set=national_2020, "
                   "counties=魏都区,建安区, bundling.level=street, bundling.gap_m=15, "
                   "targets.households=3000, milestones.all_started.date=2024-06-30. "
                   "Repeat for several.")
@click.option("--dry-run", is_flag=True, help="Check and show the changes; write nothing 仅检查.")
def set_(store: Path, file: Path | None, settings: tuple[str, ...], dry_run: bool) -> None:
    """Change the settings of the programme STORE 修改项目设置.

    FILE is a programme file (TOML, as written by `gisplan init --template`); it may give
    only the keys to change. Its [tables] are merged key by key; its lists
    (milestones 里程碑, start_criteria 开工条件, budget.funding 资金来源) replace the stored
    ones. --set changes one key, after FILE. Nothing is written when anything is wrong.
    """
    from gisplan.programme import apply_settings, check_update, read_programme

    if file is None and not settings:
        raise click.UsageError("give a programme file, or --set KEY=VALUE (see --help)")
    project, meta = _open(store)
    updates: dict[str, Any] = {}
    if file is not None:
        update = read_programme(file, partial=True)
        text = file.read_text(encoding="utf-8-sig")
        updates.update(check_update(meta, update, file=str(file), text=text))
        _warn(update.report.findings)
    if settings:
        current = {**meta, **updates}
        update = apply_settings(current, settings)
        updates.update(check_update(current, update))
        _warn(update.report.findings)
    _echo_changes(meta, updates)
    if not updates or dry_run:
        click.echo("nothing written 未写入 (dry run)" if dry_run and updates else "")
        return
    project.set_meta(**updates)
    click.echo(f"written 已写入: {store}")


def _warn(findings: Any) -> None:
    for finding in findings:
        click.secho(str(finding), fg="yellow")


def _echo_changes(meta: Mapping[str, Any], updates: Mapping[str, Any]) -> None:
    if not updates:
        click.echo("nothing changed 无变化: the settings are as given")
        return
    click.echo("changes 修改:")
    for key, new in updates.items():
        old = meta.get(key)
        if isinstance(new, list | dict) or isinstance(old, list | dict):
            n = len(new) if isinstance(new, list) else None
            count = f" ({n} entries 条)" if n is not None else ""
            click.echo(f"  {key}: replaced 已替换{count}")
        else:
            click.echo(f"  {key}: {'—' if old is None else old} → {new}")
