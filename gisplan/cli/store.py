"""``gisplan store copy|grant``: move a programme between GeoPackage and PostGIS; accounts.

Examples
--------
>>> from gisplan.cli.store import copy_programme
>>> import tempfile, pathlib
>>> dst = pathlib.Path(tempfile.mkdtemp()) / "copy.gpkg"
>>> copy_programme("layers/guyuan_2022.gpkg", str(dst)).layers()[:2]
['compounds', 'districts']
"""

from __future__ import annotations

import os
from typing import Any

import click

from gisplan._errors import StoreError
from gisplan.cli._options import NEW_PROGRAMME, PROGRAMME

#: environment variable holding the password of an account created by ``store grant``
PASSWORD_ENV = "GISPLAN_NEW_PASSWORD"


def copy_programme(src: str, dst: str, *, overwrite: bool = False) -> Any:
    """Copy every layer, description and metadata key of programme *src* to *dst*.

    Either may be a GeoPackage path or a ``postgresql://`` URL. Returns the new
    :class:`~gisplan.store.Project`.
    """
    from gisplan.store import Project

    source = Project.open(src)
    names = source.layers()
    frames = {n: source.read(n) for n in names}
    descriptions = {n: source.description(n) for n in names}
    target = Project.create(dst, meta=source.meta, overwrite=overwrite)
    target.write_many(frames, descriptions=descriptions)
    return target


@click.group("store")
def store() -> None:
    """Programme stores 项目库: copy between GeoPackage and PostGIS, database accounts.

    \b
    gisplan store copy 项目.gpkg "postgresql://city@db.example/renewal?schema=xuchang"
    gisplan store copy "postgresql://city@db.example/renewal?schema=xuchang" 备份.gpkg
    gisplan store grant "postgresql://admin@db.example/renewal?schema=xuchang" \\
        yuzhou --role county --county 禹州市

    Passwords come from PGPASSWORD or ~/.pgpass, never from the command line.
    """  # noqa: D301 - \b keeps click from rewrapping the examples


@store.command("copy")
@click.argument("src", type=PROGRAMME)
@click.argument("dst", type=NEW_PROGRAMME)
@click.option("--overwrite", is_flag=True, help="Replace DST when it exists 覆盖.")
def copy(src: Any, dst: Any, overwrite: bool) -> None:
    """Copy the programme SRC to DST 复制项目 (GeoPackage ↔ PostGIS, layers and settings)."""
    target = copy_programme(os.fspath(src), os.fspath(dst), overwrite=overwrite)
    click.echo(f"copied {len(target.layers())} layers 图层 to {target.path}")


@store.command("grant")
@click.argument("store_url", metavar="STORE", type=PROGRAMME)
@click.argument("account")
@click.option("--role", "kind", required=True, type=click.Choice(["city", "county", "read"]),
              help="city 市级 (everything), county 县区 (read; add progress rows of its own "
                   "county only), read 只读 (publishing).")
@click.option("--county", default=None, help="The county of a county account 县区, e.g. 禹州市.")
@click.option("--no-password", is_flag=True,
              help="Create the account without a password (for certificate or peer login).")
def grant(store_url: Any, account: str, kind: str, county: str | None,
          no_password: bool) -> None:
    """Create or update database ACCOUNT for the PostGIS programme STORE 数据库账号.

    Run it as the database administrator (a role with CREATEROLE). The new account's
    password is read from GISPLAN_NEW_PASSWORD, else asked for (hidden); it is
    encrypted before it is sent. The database itself enforces the role: a county
    account can read the programme and add progress rows only for compounds of its
    county (row-level security).
    """
    from gisplan.sources import StoreURL
    from gisplan.store._postgis import grant_account

    if not isinstance(store_url, StoreURL):
        raise StoreError(f"{store_url}: accounts exist in PostGIS programmes only; give a "
                         "postgresql://…?schema=NAME URL (a GeoPackage has no accounts)")
    password = None
    if not no_password:
        password = os.environ.get(PASSWORD_ENV) or click.prompt(
            f"password for {account}", hide_input=True, confirmation_prompt=True)
    grant_account(str(store_url), account, kind=kind, county=county,  # type: ignore[arg-type]
                  password=password)
    where = f" of {county}" if county else ""
    click.echo(f"account {account}: {kind}{where} in {store_url}")
