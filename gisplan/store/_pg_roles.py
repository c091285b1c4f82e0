"""Who may do what in a PostGIS programme: roles, grants and row-level security.

Three group roles per programme (schema ``S``), created by ``gisplan store grant``:

``gisplan_S_city``
    The city office 市级: owns the schema and every table (so it can replace layers,
    append, change metadata) and bypasses row security.
``gisplan_S_read``
    Read-only 只读 (publishing, and every county): ``SELECT`` on every table.
``gisplan_S_county``
    County offices 县区: ``INSERT`` on ``progress_log`` only, and a row-level security
    policy lets a county account insert only rows for compounds of its own county
    (``compounds.county``), or rows without a compound id whose ``county`` is its own.

Login roles are members of these groups; a county login's county is a row of the
programme's ``gisplan_roles`` table, so one fixed policy serves every county and no
SQL is ever built from a county's name. The grants and policies are re-applied in the
transaction of every layer write (a replaced table is a new table).

Examples
--------
>>> from gisplan.store._pg_roles import group_name
>>> group_name("guyuan_2022", "county")
'gisplan_guyuan_2022_county'
"""

from __future__ import annotations

from typing import Any, Literal

from gisplan._errors import StoreError

__all__ = ["ROLES_TABLE", "RoleKind", "apply_security", "become_owner", "grant", "group_name"]

RoleKind = Literal["city", "county", "read"]
ROLES_TABLE = "gisplan_roles"
_LOG = "progress_log"


def group_name(schema: str, kind: RoleKind) -> str:
    """Return the name of the group role *kind* of the programme in *schema*."""
    return f"gisplan_{schema}_{kind}"


def _role_exists(cur: Any, role: str) -> bool:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    return cur.fetchone() is not None


def _tables(cur: Any, schema: str) -> list[str]:
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
                (schema,))
    return [r[0] for r in cur.fetchall()]


def _columns(cur: Any, schema: str, table: str) -> set[str]:
    cur.execute("SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s", (schema, table))
    return {r[0] for r in cur.fetchall()}


def become_owner(cur: Any, schema: str) -> None:
    """In this transaction, act as the city group when it exists and we are a member.

    Tables created by a write are then owned by the city group, so every city login
    can replace them later.
    """
    from psycopg import sql

    city = group_name(schema, "city")
    cur.execute("SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles "
                "WHERE rolname = %s", (city,))
    row = cur.fetchone()
    if row is not None and row[0]:
        cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(city)))


def apply_security(cur: Any, schema: str) -> None:
    """(Re-)apply grants and row-level security in *schema*; a no-op before any grant."""
    from psycopg import sql

    read, county, city = (group_name(schema, k) for k in ("read", "county", "city"))
    if not _role_exists(cur, read):
        return
    s = sql.Identifier(schema)
    for group in (read, county):
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, sql.Identifier(group)))
    cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
        s, sql.Identifier(read)))
    tables = _tables(cur, schema)
    if _LOG in tables:
        _secure_log(cur, schema, county=county, city=city)


def _secure_log(cur: Any, schema: str, *, county: str, city: str) -> None:
    from psycopg import sql

    log = sql.Identifier(schema, _LOG)
    cur.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(log))
    for policy in ("gisplan_read", "gisplan_city", "gisplan_county_insert"):
        cur.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(
            sql.Identifier(policy), log))
    cur.execute(sql.SQL("CREATE POLICY gisplan_read ON {} FOR SELECT USING (true)").format(log))
    cur.execute(sql.SQL("CREATE POLICY gisplan_city ON {} FOR ALL TO {} USING (true) "
                        "WITH CHECK (true)").format(log, sql.Identifier(city)))
    cols = _columns(cur, schema, _LOG)
    if not {"compound_id", "county"} <= cols:
        return  # a log without these columns: counties cannot insert (no policy, no grant)
    mine = sql.SQL("(SELECT r.county FROM {} r WHERE r.role = current_user "
                   "AND r.kind = 'county')").format(sql.Identifier(schema, ROLES_TABLE))
    has_compounds = "county" in _columns(cur, schema, "compounds") and \
        "compound_id" in _columns(cur, schema, "compounds")
    own_compound = sql.SQL("EXISTS (SELECT 1 FROM {} c WHERE c.compound_id = {}.compound_id "
                           "AND c.county = {})").format(
        sql.Identifier(schema, "compounds"), sql.Identifier(_LOG), mine) \
        if has_compounds else sql.SQL("false")
    check = sql.SQL("CASE WHEN compound_id IS NULL THEN county = {} ELSE {} END").format(
        mine, own_compound)
    cur.execute(sql.SQL("CREATE POLICY gisplan_county_insert ON {} FOR INSERT TO {} "
                        "WITH CHECK ({})").format(log, sql.Identifier(county), check))
    cur.execute(sql.SQL("GRANT INSERT ON {} TO {}").format(log, sql.Identifier(county)))


def _ensure_groups(cur: Any, schema: str) -> None:
    from psycopg import sql

    for kind in ("city", "read", "county"):
        role = group_name(schema, kind)
        if not _role_exists(cur, role):
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    city = sql.Identifier(group_name(schema, "city"))
    cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(city))
    cur.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), city))
    for table in _tables(cur, schema):
        cur.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(
            sql.Identifier(schema, table), city))


def grant(cur: Any, conn: Any, schema: str, *, login: str, kind: RoleKind,
          county: str | None, password: str | None) -> None:
    """Create (or update) login *login* as a *kind* account of the programme in *schema*.

    Run by an administrator (a role with ``CREATEROLE``) in one transaction. The
    password is encrypted on the client (``SCRAM-SHA-256``) before it is sent.
    """
    from psycopg import sql

    if kind == "county" and not county:
        raise StoreError("a county account needs its county: --county 禹州市")
    if kind != "county" and county:
        raise StoreError(f"--county applies to county accounts only, not to a {kind} account")
    if not login or "\x00" in login or len(login.encode()) > 63:
        raise StoreError("the account name must be 1 to 63 bytes")
    _ensure_groups(cur, schema)
    name = sql.Identifier(login)
    if not _role_exists(cur, login):
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(name))
    if password is not None:
        hashed = conn.pgconn.encrypt_password(password.encode(), login.encode(),
                                              b"scram-sha-256")
        cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            name, sql.Literal(hashed.decode())))
    groups: dict[str, list[RoleKind]] = {"city": ["city", "read"], "county": ["read", "county"],
                                         "read": ["read"]}
    for g in groups[kind]:
        cur.execute(sql.SQL("GRANT {} TO {}").format(
            sql.Identifier(group_name(schema, g)), name))
    cur.execute(sql.SQL("INSERT INTO {} (role, kind, county) VALUES (%s, %s, %s) "
                        "ON CONFLICT (role) DO UPDATE SET kind = EXCLUDED.kind, "
                        "county = EXCLUDED.county").format(sql.Identifier(schema, ROLES_TABLE)),
                (login, kind, county))
    apply_security(cur, schema)
