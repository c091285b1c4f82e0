"""PostgreSQL connections for the PostGIS store: the URL, credentials, and clear errors.

A PostGIS programme is named by a URL ``postgresql://USER@HOST:PORT/DATABASE?schema=NAME``:
one database holds many programmes, one schema each. Passwords come from the
environment (``PGPASSWORD``) or a password file (``~/.pgpass`` or ``PGPASSFILE``), as
for every PostgreSQL client; libpq reads them, gisplan never prints them
(:func:`redact`). Every failure to connect becomes a :class:`StoreError` that says
what to do.

Examples
--------
>>> from gisplan.store._pg import is_url, parse_url, redact
>>> is_url("postgresql://planner@db.example/renewal?schema=guyuan"), is_url("x.gpkg")
(True, False)
>>> parse_url("postgresql://planner@db.example/renewal?schema=guyuan&sslmode=require")
('postgresql://planner@db.example/renewal?sslmode=require', 'guyuan')
>>> redact("postgresql://planner:secret@db.example:5433/renewal?schema=guyuan")
'postgresql://planner@db.example:5433/renewal?schema=guyuan'
>>> parse_url("postgresql:///renewal?schema=guyuan")  # the local server, over its socket
('postgresql:///renewal', 'guyuan')
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from gisplan._errors import StoreError

__all__ = ["SCHEMES", "connect", "has_password", "is_url", "parse_url", "redact",
           "refused", "user_of"]

SCHEMES = ("postgresql://", "postgres://")
#: longest schema name: role names ``gisplan_<schema>_county`` must fit in 63 bytes
MAX_SCHEMA_BYTES = 40
CONNECT_TIMEOUT_S = 10


def is_url(source: object) -> bool:
    """Return True when *source* is a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(source, str) and source.lower().startswith(SCHEMES)


def has_password(url: str) -> bool:
    """Return True when *url* carries a password (in the user part or as ``password=``)."""
    parts = urlsplit(url)
    return parts.password is not None or any(
        k == "password" for k, _ in parse_qsl(parts.query, keep_blank_values=True))


def parse_url(url: str) -> tuple[str, str]:
    """Split *url* into the libpq URL (without ``schema=``) and the programme's schema.

    Raises
    ------
    StoreError
        When the URL names no schema, or a schema name that is too long.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = [v for k, v in query if k == "schema"]
    rest = [(k, v) for k, v in query if k != "schema"]
    if not schema or not schema[-1]:
        raise StoreError(
            f"{redact(url)}: say which programme (schema) in the URL, e.g. "
            f"postgresql://USER@HOST/DATABASE?schema=guyuan_2022 "
            "(one schema per programme 每个项目一个schema)")
    name = schema[-1]
    if len(name.encode()) > MAX_SCHEMA_BYTES or "\x00" in name:
        raise StoreError(f"{redact(url)}: schema name is longer than {MAX_SCHEMA_BYTES} bytes "
                         "(or holds a NUL); choose a shorter name")
    return _join(parts.scheme, parts.netloc, parts.path, urlencode(rest)), name


def redact(url: str) -> str:
    """Return *url* without its password (safe to print)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != "password"]
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    if parts.username:
        netloc = f"{quote(unquote(parts.username), safe='')}@{netloc}"
    return _join(parts.scheme, netloc, parts.path, urlencode(query, safe="/"))


def _join(scheme: str, netloc: str, path: str, query: str) -> str:
    """Join URL parts, keeping ``//`` when there is no host (a local socket)."""
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def user_of(url: str) -> str:
    """Return the user named by *url*, else ``PGUSER``, else the login name."""
    parts = urlsplit(url)
    if parts.username:
        return unquote(parts.username)
    user = dict(parse_qsl(parts.query)).get("user") or os.environ.get("PGUSER")
    if user:
        return user
    import getpass

    return getpass.getuser()


def connect(libpq_url: str, *, shown: str, autocommit: bool = False) -> Any:
    """Open a connection to *libpq_url*; failures become a :class:`StoreError`.

    *shown* is the redacted URL used in messages.
    """
    import psycopg

    try:
        return psycopg.connect(libpq_url, autocommit=autocommit,
                               connect_timeout=CONNECT_TIMEOUT_S, application_name="gisplan")
    except psycopg.OperationalError as exc:
        raise _connect_error(str(exc), shown, user_of(libpq_url)) from None
    except psycopg.ProgrammingError as exc:  # a malformed URL
        raise StoreError(f"{shown}: not a usable PostgreSQL URL ({_scrub(str(exc), libpq_url)}); "
                         "write postgresql://USER@HOST:PORT/DATABASE?schema=NAME") from None


def _scrub(text: str, url: str) -> str:
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


_PASSWORD_HINT = ("set the password in the environment (export PGPASSWORD=...) or in a "
                  "password file, one line HOST:PORT:DATABASE:USER:PASSWORD in ~/.pgpass "
                  "(chmod 600) or the file named by PGPASSFILE")


def _connect_error(text: str, shown: str, user: str) -> StoreError:
    low = text.lower()
    if "password authentication failed" in low:
        return StoreError(f"{shown}: the server refused the password of user '{user}' "
                          f"密码错误; {_PASSWORD_HINT}")
    if "no password supplied" in low or "password is required" in low:
        return StoreError(f"{shown}: the server asks for the password of user '{user}' "
                          f"and none was given; {_PASSWORD_HINT}")
    if "does not exist" in low and "database" in low:
        return StoreError(f"{shown}: the database does not exist; create it first "
                          "(createdb DATABASE, as the database administrator)")
    if "does not exist" in low and "role" in low:
        return StoreError(f"{shown}: the server has no user '{user}'; ask the administrator "
                          "to create it (`gisplan store grant`)")
    if ("connection refused" in low or "could not connect" in low or "timeout" in low
            or "no such file" in low or "could not translate host" in low):
        return StoreError(f"{shown}: cannot reach the PostgreSQL server 数据库服务器无法连接 "
                          "(is it running, and are host and port right?); start it "
                          "(`make postgis` for a local one, or ask the administrator) and "
                          "run the command again")
    first = text.strip().splitlines()[0] if text.strip() else "connection failed"
    return StoreError(f"{shown}: cannot connect: {first}")


def refused(exc: Exception, shown: str, user: str, what: str) -> StoreError:
    """Return the error for a statement the server refused (privileges, row security)."""
    diag = getattr(exc, "diag", None)
    detail = (getattr(diag, "message_primary", None) or str(exc)).strip()
    low = detail.lower()
    if "row-level security" in low:
        return StoreError(
            f"{shown}: user '{user}' may not {what}: a county account 县区账号 adds progress "
            f"rows only for compounds of its own county (the database refused: {detail}); "
            "import the report with the account of the county it comes from, or ask the city "
            "office 市级账号")
    return StoreError(
        f"{shown}: user '{user}' may not {what} (the database refused: {detail}); "
        "ask the city office 市级账号 to do it, or to grant the right with `gisplan store grant`")
