"""Shared fixtures: copies of the sample programmes (never written in place)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ROOT / "layers"
COUNTIES = ROOT / "gisplan" / "data" / "counties" / "seed-city-counties.geojson"
SAMPLES = {
    "guyuan": "guyuan_2022.gpkg",
    "xuchang": "xuchang_2023.gpkg",
    "huaian": "huaian_2023.gpkg",
}


@pytest.fixture
def sample_copy(tmp_path: Path) -> Callable[[str], Path]:
    """Return a function that copies a sample programme into ``tmp_path``.

    ``sample_copy("guyuan")`` -> path of a private copy of ``layers/guyuan_2022.gpkg``.
    """

    def _copy(name: str) -> Path:
        src = LAYERS / SAMPLES.get(name, name)
        if not src.exists():
            pytest.fail(f"sample programme {src} is missing: run `gisplan samples`")
        dst = tmp_path / src.name
        shutil.copyfile(src, dst)
        return dst

    return _copy


@pytest.fixture(scope="session")
def county_boundaries() -> Path:
    """Path of the real county boundaries packaged with gisplan (``gisplan/data/counties``)."""
    if not COUNTIES.exists():
        pytest.fail(f"{COUNTIES} is missing: the package data is incomplete")
    return COUNTIES


@pytest.fixture
def gisplan(capsys: pytest.CaptureFixture[str]):
    """Run ``gisplan ARGS`` in-process as a user does; return (exit code, everything printed)."""

    def run(*args: object) -> tuple[int, str]:
        try:
            from gisplan.cli import main

            rv = main([str(a) for a in args])
            code = rv if isinstance(rv, int) else 0  # ctx.exit(n) returns n here
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out + out.err

    return run


# ---------------------------------------------------------------- a real PostgreSQL + PostGIS

import dataclasses  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402

PG_ADMIN = "gisplan_admin"
PG_DATABASE = "gisplan_test"


@dataclasses.dataclass
class PgServer:
    """A PostgreSQL server started for the tests (Debian's binaries, a temporary cluster)."""

    host: str
    port: int
    passfile: Path
    admin_password: str
    bindir: Path

    def url(self, schema: str, *, user: str = PG_ADMIN, database: str = PG_DATABASE) -> str:
        """URL of programme *schema* for *user* (no password: it is in the passfile)."""
        from urllib.parse import quote

        return (f"postgresql://{quote(user, safe='')}@{self.host}:{self.port}/{database}"
                f"?schema={quote(schema, safe='')}")

    def add_password(self, user: str, password: str) -> None:
        """Add *user*'s password to the passfile (``PGPASSFILE``), as a user would."""
        esc = user.replace("\\", "\\\\").replace(":", "\\:")
        pw = password.replace("\\", "\\\\").replace(":", "\\:")
        with self.passfile.open("a", encoding="utf-8") as fh:
            fh.write(f"{self.host}:{self.port}:*:{esc}:{pw}\n")

    def admin(self, database: str = PG_DATABASE):  # type: ignore[no-untyped-def]
        """An autocommit superuser connection."""
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=PG_ADMIN,
                               dbname=database, autocommit=True)


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                        else 0)
    return candidates[-1].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("GISPLAN_REQUIRE_POSTGIS") == "1":
        pytest.fail(f"PostGIS tests required (GISPLAN_REQUIRE_POSTGIS=1) but {reason}")
    pytest.skip(f"{reason}; install Debian's postgresql and postgis (see README, "
                "`make postgis`) to run the PostGIS tests")


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        _unavailable(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout.strip()}")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """Start a throw-away PostgreSQL cluster with PostGIS on a free loopback port.

    Skipped (with the reason) when Debian's PostgreSQL binaries or PostGIS are absent,
    failed instead when ``GISPLAN_REQUIRE_POSTGIS=1`` (as in CI).
    """
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed")
    bindir = _pg_bindir()
    if bindir is None:
        _unavailable("PostgreSQL's pg_ctl/initdb are not installed")
    assert bindir is not None
    import tempfile

    # not under pytest's tmp dir: that is private to root, and postgres must reach it
    base = Path(tempfile.mkdtemp(prefix="gisplan-pg-"))
    data, password = base / "data", secrets.token_urlsafe(16)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    _run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", PG_ADMIN,
                       "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                       "--locale=C"]))
    opts = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=120")
    _run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts,
                       "-l", str(base / "log"), "-w", "start"]))
    passfile = base / "pgpass"
    server = PgServer("127.0.0.1", port, passfile, password, bindir)
    passfile.write_text("")
    passfile.chmod(0o600)
    server.add_password(PG_ADMIN, password)
    old = {k: os.environ.get(k) for k in ("PGPASSFILE", "PGPASSWORD")}
    os.environ["PGPASSFILE"] = str(passfile)
    os.environ.pop("PGPASSWORD", None)
    try:
        with server.admin("postgres") as con:
            con.execute(f"CREATE DATABASE {PG_DATABASE}")
        with server.admin() as con:
            try:
                con.execute("CREATE EXTENSION postgis")
            except psycopg.Error:
                _unavailable("the PostGIS extension is not installed for PostgreSQL "
                             f"({bindir.parent.name})")
        yield server
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                     "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_schema(request: pytest.FixtureRequest) -> str:
    """A schema name unique to the test (one programme per test)."""
    import hashlib

    return "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
