"""The ``gisplan`` command line.

Each command lives in its own module of this package and is imported only when it
runs, so that ``gisplan --help`` stays fast and one broken command cannot break the
others.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from gisplan._errors import GisplanError

# command name -> ("module", "attribute", "short help shown by `gisplan --help`")
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("gisplan.cli.demo", "demo", "Run the whole job on the sample programmes 演示"),
    "samples": ("gisplan.cli.samples", "samples", "Build the sample programmes 示例数据"),
    "synth": ("gisplan.cli.synth", "synth",
              "Generate a synthetic city or national programme 合成数据"),
    "init": ("gisplan.cli.init", "init", "Create a programme 新建项目"),
    "programme": ("gisplan.cli.programme", "programme",
                  "Show or change programme settings 项目设置"),
    "template": ("gisplan.cli.template", "template", "Blank Excel form to fill in 填报模板"),
    "import": ("gisplan.cli.load", "import_layer", "Read a file into a programme 导入图层"),
    "import-osm": ("gisplan.cli.import_osm", "import_osm",
                   "Build a programme from an OpenStreetMap extract 从OSM建立项目"),
    "check": ("gisplan.cli.check", "check", "Validate a programme 数据检查"),
    "join": ("gisplan.cli.join", "join",
             "Join compounds to districts, utilities, facilities 空间关联"),
    "bundle": ("gisplan.cli.bundle", "bundle", "Group adjacent compounds into bundles 连片打包"),
    "coverage": ("gisplan.cli.coverage", "coverage", "Facility coverage and gaps 设施覆盖"),
    "site": ("gisplan.cli.site", "site", "Propose sites for new facilities 设施选址"),
    "progress": ("gisplan.cli.progress", "progress", "Progress log: import, status 进度"),
    "estimate": ("gisplan.cli.estimate", "estimate",
                 "Cost estimates and funding sources 资金概算与来源"),
    "contact-points": ("gisplan.cli.contact_points", "contact_points",
                       "Propose contact-point projects 联系点"),
    "waste-points": ("gisplan.cli.waste_points", "waste_points",
                     "Propose waste sorting facilities 垃圾分类设施"),
    "evaluate": ("gisplan.cli.evaluate", "evaluate", "County evaluation, top 3 考核评价"),
    "report": ("gisplan.cli.report", "report", "Excel/CSV report 报表"),
    "run": ("gisplan.cli.run", "run", "Run the whole analysis, city by city 全流程分析"),
    "export": ("gisplan.cli.parquet", "export", "Export a layer as GeoParquet 导出GeoParquet"),
    "import-parquet": ("gisplan.cli.parquet", "import_parquet",
                       "Write a GeoParquet file into a programme 导入GeoParquet"),
    "map": ("gisplan.cli.map", "map_", "Interactive HTML map 地图"),
    "store": ("gisplan.cli.store", "store",
              "Copy programmes between GeoPackage and PostGIS; accounts 项目库"),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the command names in the order of :data:`COMMANDS`."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return command *cmd_name* (a stand-in that explains if it is missing)."""
        if cmd_name not in COMMANDS:
            return None
        module, attr, short = COMMANDS[cmd_name]
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise

            @click.command(cmd_name, help=short)
            def unavailable() -> None:
                raise click.ClickException(f"'{cmd_name}' is not available in this build")

            unavailable.short_help = short + " (not available)"
            return unavailable
        cmd: click.Command = getattr(mod, attr)
        if not cmd.short_help:
            cmd.short_help = short
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gisplan")
def cli() -> None:
    """gisplan: GIS planning for old residential compound renovation (城镇老旧小区改造).

    A programme is one GeoPackage holding compounds 小区, districts 片区/街道/县区,
    utilities 管线, facilities 设施, roads 道路 and a progress log 进度台账.
    """


def main(argv: list[str] | None = None) -> Any:
    """Run the command line; every failure ends with a message and exit 1 or 2, never a trace.

    - bad input (:class:`~gisplan._errors.GisplanError`): its message (file, layer, row,
      column, value, fix), exit 2;
    - bad options (click): click's usage message naming the option, exit 2;
    - files the operating system or a driver refuses (missing, unreadable, not a
      database, not a GIS file): what and where, exit 2;
    - anything else is a bug in gisplan: one line that says so, exit 2; the traceback
      only with ``GISPLAN_DEBUG=1``.
    """
    try:
        return cli.main(args=argv, prog_name="gisplan", standalone_mode=False)
    except GisplanError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: no traceback
        if os.environ.get("GISPLAN_DEBUG"):
            raise
        click.secho(f"error: {_describe(exc)}", fg="red", err=True)
        sys.exit(2)


def _describe(exc: BaseException) -> str:
    """Say in one line what failed, for an exception gisplan did not raise on purpose."""
    import sqlite3

    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename}: no such file. Fix: check the path"
    if isinstance(exc, PermissionError):
        return f"{exc.filename}: permission denied. Fix: check the file's permissions"
    if isinstance(exc, IsADirectoryError):
        return f"{exc.filename}: is a folder, not a file. Fix: give the file's path"
    if isinstance(exc, sqlite3.DatabaseError):
        return (f"the programme file cannot be read as a GeoPackage ({exc}). Fix: check that "
                "it is a complete .gpkg file written by gisplan or GIS software")
    if type(exc).__module__.startswith(("pyogrio", "fiona")):
        return f"the file cannot be read as GIS data ({exc}). Fix: check the file and its format"
    if isinstance(exc, UnicodeDecodeError):
        return ("a text file is in an unknown encoding. Fix: save it as UTF-8 (or GBK) "
                f"and try again ({exc.reason})")
    if isinstance(exc, MemoryError):
        return "out of memory. Fix: work on a smaller area or a machine with more memory"
    return (f"internal error: {type(exc).__name__}: {exc}. This is a bug in gisplan; please "
            "report it with the command you ran (set GISPLAN_DEBUG=1 to see the traceback)")
