"""Cost estimates (资金概算) per compound and per bundle, from unit costs that are data.

A county's annual plan must give every project its 资金概算 (Xuchang 三(一)). gisplan
estimates it from the compound's planned items (``planned_items``, parsed by
:func:`gisplan.design.parse_items`) and a table of unit costs,
``data/unit_costs.csv``, one row per item of the three categories (基础类 / 完善类 /
提升类), each priced on one *basis*:

============== ======================================= ============================
basis          quantity                                unit
============== ======================================= ============================
floor_area_m2  the compound's ``floor_area_m2``         元/m² of floor area
household      ``households``                          元/户
building       ``buildings``                           元/栋
compound       1                                       元 per compound
facility       1 per planned facility item             元/处
pipe_m         utility line length of that network     元/m of pipe
               within the compound + margin
               (:func:`gisplan.join.join_utilities`),
               or ``fallback_per_household`` m/户
               where no line of that network is mapped
============== ======================================= ============================

Every value carries its source, or is marked ``illustrative`` (示意). A city replaces
the table with its own 概算定额; :func:`load_unit_costs` checks it row by row.

The estimate can be *calibrated* to a stated programme total (Guyuan: 17,808.68万元 for
247,891 m² and 3,081 households): every compound's estimate is multiplied by one factor,
``stated / raw``, shown in the result, and rounded to the 元 so that the rounded
estimates add up to the stated total exactly.

Per bundle (连片改造), utility lines that serve several members are dug once: the
*shared trench* of a line is its length within the members' reach, and the *saving*
is the length that separate projects would have dug twice, priced at the network's
``trench_yuan_per_m``.

Examples
--------
>>> import pandas as pd
>>> from gisplan.costs import estimate_compounds
>>> c = pd.DataFrame({"compound_id": ["A", "B"], "households": [100, 50],
...                   "floor_area_m2": [8000.0, 4000.0], "buildings": [2, 1],
...                   "planned_items": ["屋面、外墙、安防", "屋面"]})
>>> res = estimate_compounds(c)
>>> res.compounds["estimate_raw_wan_yuan"].tolist()
[187.0, 32.0]
>>> cal = estimate_compounds(c, calibrate_to_wan_yuan=438.0)
>>> cal.calibration["factor"], float(cal.compounds["estimate_wan_yuan"].sum())
(2.0, 438.0)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from io import StringIO
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gisplan._errors import InputError, SchemaError
from gisplan.design import design_rules, parse_items
from gisplan.findings import Finding, Report, add_flags
from gisplan.sources import ProgrammeLike, as_project, read_layers

__all__ = [
    "Basis", "EstimateResult", "UnitCosts", "bundle_labels", "calibrate",
    "estimate_bundles", "estimate_compounds", "estimate_project", "joint_works",
    "load_unit_costs",
]

#: How an item is priced (see the module docstring).
Basis = Literal["floor_area_m2", "household", "building", "compound", "facility", "pipe_m"]

_BASIS_UNIT = {"floor_area_m2": "元/m²", "household": "元/户", "building": "元/栋",
               "compound": "元/小区", "facility": "元/处", "pipe_m": "元/m"}
_BASIS_COLUMN = {"floor_area_m2": "floor_area_m2", "household": "households",
                 "building": "buildings"}
_COLUMNS = ("item", "zh", "category", "basis", "unit_cost_yuan", "fallback_per_household",
            "trench_yuan_per_m", "source", "illustrative")
WAN = 10_000.0


@dataclass(frozen=True)
class UnitCosts:
    """The unit-cost table (one row per item, index ``item``) and the file it came from."""

    table: pd.DataFrame
    file: str = "<builtin unit_costs.csv>"

    def cost(self, item: str) -> float:
        """Return the unit cost of *item* in 元 per unit of its basis."""
        return float(self.table["unit_cost_yuan"].to_dict()[item])

    def basis(self, item: str) -> str:
        """Return the basis of *item* (a :data:`Basis` value)."""
        return str(self.table.at[item, "basis"])


def data_toml(path: str | Path | None, default: str) -> tuple[dict[str, Any], str]:
    """Read a TOML rule file: *path*, or the shipped ``gisplan/data/<default>``.

    Returns the parsed document and the file name used in error messages. A syntax error
    is an :class:`InputError` naming the file, line and how to fix it.
    """
    import tomllib

    if path is None:
        text = (resources.files("gisplan.data") / default).read_text("utf-8")
        file = f"gisplan/data/{default}"
    else:
        text, file = Path(path).read_text("utf-8-sig"), str(path)
    try:
        return tomllib.loads(text), file
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=file,
                         hint="fix the line named (quotes around text, = between key "
                         "and value)") from None


def _bad(file: str, row: int, column: str, value: Any, message: str, hint: str) -> InputError:
    return InputError(message, file=file, row=row, column=column, value=value, hint=hint)


def _check_row(file: str, row: int, r: pd.Series, known: list[str]) -> None:
    """Raise an :class:`InputError` for the first bad cell of one unit-cost row."""
    if r["item"] not in known:
        close = difflib.get_close_matches(r["item"], known, n=3)
        raise _bad(file, row, "item", r["item"], "unknown renovation item",
                   ("did you mean " + ", ".join(close)) if close
                   else "use an item key of data/design_completeness.csv")
    if r["basis"] not in get_args(Basis):
        raise _bad(file, row, "basis", r["basis"], "unknown cost basis",
                   "use one of " + ", ".join(get_args(Basis)))
    for col in ("unit_cost_yuan", "fallback_per_household", "trench_yuan_per_m"):
        v = r[col]
        if col != "unit_cost_yuan" and v == "":
            continue
        try:
            x = float(v)
        except ValueError:
            raise _bad(file, row, col, v, "not a number", "write a number in 元") from None
        if not np.isfinite(x) or x < 0:
            raise _bad(file, row, col, v, "a unit cost cannot be negative",
                       "write the cost as a positive number of 元 (0 for free)")
    if r["basis"] == "pipe_m" and r["trench_yuan_per_m"] == "":
        raise _bad(file, row, "trench_yuan_per_m", "", "a pipe item needs its trench cost",
                   "give the 元/m of digging and reinstating the trench (used for joint works)")
    if not r["source"].strip() and r["illustrative"] not in ("true", "1", "yes"):
        raise _bad(file, row, "source", "", "a unit cost without a source",
                   "write where the value comes from, or set illustrative to true (示意)")


def load_unit_costs(path: str | Path | None = None) -> UnitCosts:
    """Read and check a unit-cost table (default: the shipped ``data/unit_costs.csv``).

    Parameters
    ----------
    path : str or Path, optional
        A CSV with the columns of the shipped table. ``None``: the shipped table.

    Returns
    -------
    UnitCosts

    Raises
    ------
    InputError
        Naming file, row (1-based data row), column, the value and a fix, for an
        unknown item or basis, a negative or non-numeric cost, a duplicate item, or a
        value with neither source nor ``illustrative``.

    Examples
    --------
    >>> uc = load_unit_costs()
    >>> uc.cost("walls"), uc.basis("walls"), bool(uc.table.at["walls", "illustrative"])
    (150.0, 'floor_area_m2', True)
    """
    return _load_unit_costs(None if path is None else str(path))


@cache
def _load_unit_costs(path: str | None) -> UnitCosts:
    if path is None:
        text = (resources.files("gisplan.data") / "unit_costs.csv").read_text("utf-8")
        file = "gisplan/data/unit_costs.csv"
    else:
        text, file = Path(path).read_text("utf-8-sig"), path
    raw = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in _COLUMNS if c not in raw.columns]
    if missing:
        raise SchemaError("the unit-cost table lacks columns", file=file,
                          column=", ".join(missing), hint="copy the header of "
                          "gisplan/data/unit_costs.csv")
    raw = raw.apply(lambda s: s.str.strip())
    raw["illustrative"] = raw["illustrative"].str.lower()
    known = design_rules().table["item"].tolist()
    for i, r in enumerate(raw.itertuples(index=False), start=1):
        _check_row(file, i, pd.Series(r._asdict()), known)
    dup = raw["item"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0]) + 1
        raise _bad(file, i, "item", raw["item"].iat[i - 1], "item priced twice",
                   "keep one row per item")
    t = raw.set_index("item", drop=False)
    for col in ("unit_cost_yuan", "fallback_per_household", "trench_yuan_per_m"):
        t[col] = pd.to_numeric(t[col].replace("", np.nan))
    t["illustrative"] = t["illustrative"].isin(["true", "1", "yes"])
    t["unit"] = t["basis"].map(_BASIS_UNIT)
    return UnitCosts(t, file)


def calibrate(values: NDArray[np.float64], total: float, *, decimals: int = 4
              ) -> tuple[NDArray[np.float64], float]:
    """Scale *values* to add up to *total*, rounded so the rounded values add up exactly.

    Largest-remainder rounding: each value is scaled by ``total / values.sum()``, rounded
    down to *decimals*, and the units left over go to the values with the largest
    remainders. With ``decimals=4`` on 万元, the unit is one 元.

    Parameters
    ----------
    values : ndarray
        Non-negative raw values (NaN counts as 0).
    total : float
        The stated total.
    decimals : int, default 4

    Returns
    -------
    (ndarray, float)
        The calibrated values and the factor.

    Examples
    --------
    >>> v, f = calibrate(np.array([1.0, 1.0, 1.0]), 10.0, decimals=2)
    >>> v.tolist(), round(f, 4), round(float(v.sum()), 2)
    ([3.34, 3.33, 3.33], 3.3333, 10.0)
    """
    v = np.nan_to_num(np.asarray(values, dtype=float))
    raw_total = float(v.sum())
    if raw_total <= 0:
        raise InputError("cannot calibrate an estimate of zero", value=raw_total,
                         hint="plan items (planned_items) and fill in floor area and "
                         "households before calibrating")
    factor = total / raw_total
    unit = 10 ** decimals
    scaled = v * factor * unit
    floor = np.floor(scaled + 1e-9)
    left = round(total * unit - float(floor.sum()))
    if left > 0:
        order = np.argsort(-(scaled - floor), kind="stable")[:left]
        floor[order] += 1
    return floor / unit, factor


@dataclass
class EstimateResult:
    """What :func:`estimate_compounds` / :func:`estimate_project` return.

    Attributes
    ----------
    compounds : pandas.DataFrame or geopandas.GeoDataFrame
        One row per compound (index kept): ``compound_id``, ``name``, ``county``,
        ``households``, ``floor_area_m2``, ``estimate_basic_wan_yuan``,
        ``estimate_improvement_wan_yuan``, ``estimate_upgrade_wan_yuan``,
        ``estimate_raw_wan_yuan`` (from unit costs), ``calibration_factor``,
        ``estimate_wan_yuan`` (calibrated, or equal to raw), ``yuan_per_m2``,
        ``wan_yuan_per_household``, ``items``, ``unknown_items``, ``flags``.
        Store layer ``estimates``.
    items : pandas.DataFrame
        One row per compound and priced item: ``compound_id``, ``item``, ``item_zh``,
        ``category``, ``basis``, ``quantity``, ``unit``, ``unit_cost_yuan``,
        ``cost_raw_yuan``, ``cost_yuan`` (calibrated), ``quantity_source``,
        ``illustrative``. Store table ``estimate_items``.
    calibration : dict
        ``stated_wan_yuan`` (None when not calibrated), ``raw_wan_yuan``, ``factor``,
        ``source``.
    report : Report
    bundles : pandas.DataFrame or None
        Per bundle (see :func:`estimate_bundles`); store table ``estimate_bundles``.
    joint : pandas.DataFrame or None
        Per bundle and network (see :func:`joint_works`); store table ``joint_works``.
    """

    compounds: pd.DataFrame
    items: pd.DataFrame
    calibration: dict[str, Any]
    report: Report
    bundles: pd.DataFrame | None = None
    joint: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def layers(self) -> dict[str, Any]:
        """Return the store layers: ``estimates``, ``estimate_items`` (+ bundle tables)."""
        out: dict[str, Any] = {"estimates": self.compounds, "estimate_items": self.items}
        if self.bundles is not None:
            out["estimate_bundles"] = self.bundles
        if self.joint is not None:
            out["joint_works"] = self.joint
        return out


def _numeric(compounds: pd.DataFrame, column: str) -> NDArray[np.float64]:
    if column not in compounds:
        return np.full(len(compounds), np.nan)
    return pd.to_numeric(compounds[column], errors="coerce").to_numpy(dtype=float,
                                                                      na_value=np.nan)


def _parse_all(compounds: pd.DataFrame, report: Report
               ) -> tuple[list[list[str]], list[list[str]]]:
    """Parse ``planned_items`` of every compound; unknown names are flagged findings."""
    col = compounds["planned_items"] if "planned_items" in compounds else pd.Series(
        None, index=compounds.index, dtype=object)
    parsed = [parse_items(v) for v in col.tolist()]
    keys = [k for k, _ in parsed]
    unknown = [u for _, u in parsed]
    cid = compounds["compound_id"].astype(str).tolist()
    bad = [i for i, u in enumerate(unknown) if u]
    report.add_capped((Finding(
        "warning", "unknown_item", f"planned item(s) {'、'.join(unknown[i])} not in the "
        "item list; not priced", layer="compounds", row=cid[i], column="planned_items",
        value="、".join(unknown[i]), hint="use an item name of data/design_completeness.csv "
        "(中文名 or alias), or add the item there and to unit_costs.csv") for i in bad),
        total=len(bad))
    return keys, unknown


def _pipe_length(pipe_lengths: pd.DataFrame | None, cid: NDArray[Any]
                 ) -> dict[tuple[str, str], float]:
    if pipe_lengths is None or not len(pipe_lengths):
        return {}
    col = "length_margin_m" if "length_margin_m" in pipe_lengths else "length_m"
    g = pipe_lengths.groupby(["compound_id", "network"])[col].sum()
    return {(str(c), str(n)): float(v) for (c, n), v in zip(g.index.tolist(), g.tolist(),
                                                            strict=True)}


def _item_rows(compounds: pd.DataFrame, keys: list[list[str]], uc: UnitCosts,
               pipe_lengths: pd.DataFrame | None, report: Report) -> pd.DataFrame:
    """One row per compound × planned item: quantity, unit cost, raw cost."""
    cid = compounds["compound_id"].astype(str).to_numpy()
    qty_cols = {b: _numeric(compounds, c) for b, c in _BASIS_COLUMN.items()}
    lengths = _pipe_length(pipe_lengths, cid)
    rows: list[tuple[Any, ...]] = []
    unpriced: list[tuple[str, str]] = []
    t = uc.table
    spec = {c: t[c].to_dict() for c in ("basis", "zh", "category", "unit", "unit_cost_yuan",
                                        "fallback_per_household", "illustrative")}
    for i, items in enumerate(keys):
        for item in items:
            if item not in t.index:
                unpriced.append((cid[i], item))
                continue
            basis = str(spec["basis"][item])
            src = basis
            if basis in qty_cols:
                q = qty_cols[basis][i]
            elif basis == "pipe_m":
                q = lengths.get((cid[i], item), 0.0)
                src = "utilities"
                if q <= 0:
                    q = qty_cols["household"][i] * float(
                        np.nan_to_num(float(spec["fallback_per_household"][item])))
                    src = "fallback_per_household"
            else:
                q = 1.0
            rows.append((compounds.index[i], cid[i], item, spec["zh"][item],
                         spec["category"][item], basis, q, spec["unit"][item],
                         spec["unit_cost_yuan"][item], src, bool(spec["illustrative"][item])))
    report.add_capped((Finding(
        "warning", "no_unit_cost", f"item '{item}' has no unit cost; not priced",
        file=uc.file, row=c, column="item", value=item,
        hint="add a row for it to the unit-cost table") for c, item in unpriced),
        total=len(unpriced))
    items_df = pd.DataFrame(rows, columns=[
        "_pos", "compound_id", "item", "item_zh", "category", "basis", "quantity", "unit",
        "unit_cost_yuan", "quantity_source", "illustrative"])
    items_df["quantity"] = items_df["quantity"].astype(float)
    items_df["cost_raw_yuan"] = (items_df["quantity"].fillna(0)
                                 * items_df["unit_cost_yuan"]).round(2)
    return items_df


def _missing_quantities(compounds: pd.DataFrame, items: pd.DataFrame, report: Report) -> None:
    miss = items[items["quantity"].isna()]
    report.add_capped((Finding(
        "warning", "missing_quantity", f"item '{item}' is priced per {basis} but the "
        f"compound has no {_BASIS_COLUMN.get(basis, basis)}; priced at 0",
        layer="compounds", row=c, column=_BASIS_COLUMN.get(basis, basis),
        hint="fill in 建筑面积 / 户数 / 栋数") for c, item, basis in zip(
            miss["compound_id"].astype(str), miss["item"].astype(str),
            miss["basis"].astype(str), strict=True)), total=len(miss))
    add_flags(compounds, compounds["compound_id"].astype(str).isin(
        miss["compound_id"]).to_numpy(), "missing_quantity")


def estimate_compounds(
    compounds: pd.DataFrame,
    *,
    unit_costs: UnitCosts | str | Path | None = None,
    pipe_lengths: pd.DataFrame | None = None,
    calibrate_to_wan_yuan: float | None = None,
    calibration_source: str | None = None,
) -> EstimateResult:
    """Estimate every compound's renovation cost from its planned items.

    Parameters
    ----------
    compounds : DataFrame or GeoDataFrame
        ``compound_id``, ``planned_items`` and the quantities its items are priced on
        (``floor_area_m2``, ``households``, ``buildings``).
    unit_costs : UnitCosts or path, optional
        Default: the shipped ``data/unit_costs.csv``.
    pipe_lengths : DataFrame, optional
        ``compound_id``, ``network``, ``length_margin_m`` (the ``per_compound`` table of
        :func:`gisplan.join.join_utilities`). ``None``: pipes priced on
        ``fallback_per_household`` metres per household.
    calibrate_to_wan_yuan : float, optional
        A stated programme total in 万元; ``None``: no calibration (factor 1).
    calibration_source : str, optional
        Where the stated total is written (shown with the factor).

    Returns
    -------
    EstimateResult
    """
    if "compound_id" not in compounds:
        raise SchemaError("compounds have no 'compound_id' column", layer="compounds",
                          column="compound_id", hint="add 小区编号")
    uc = unit_costs if isinstance(unit_costs, UnitCosts) else load_unit_costs(unit_costs)
    report = Report()
    out = compounds.copy()
    keys, unknown = _parse_all(out, report)
    items = _item_rows(out, keys, uc, pipe_lengths, report)
    _missing_quantities(out, items, report)
    raw_yuan = np.bincount(items["_pos"].map(out.index.get_loc).to_numpy(dtype=np.int64),
                           weights=items["cost_raw_yuan"].to_numpy(), minlength=len(out))
    raw = np.round(raw_yuan / WAN, 4)
    if calibrate_to_wan_yuan is None:
        cal, factor = raw, 1.0
    else:
        cal, factor = calibrate(raw, float(calibrate_to_wan_yuan))
    pos = items["_pos"].map(out.index.get_loc).to_numpy(dtype=np.int64)
    items["cost_yuan"] = (items["cost_raw_yuan"] * factor).round(2)
    _fill_compound_columns(out, items, pos, raw, cal, factor, keys, unknown)
    add_flags(out, np.array([bool(u) for u in unknown]), "unknown_item")
    calib = {"stated_wan_yuan": calibrate_to_wan_yuan, "raw_wan_yuan": round(float(raw.sum()), 4),
             "factor": round(factor, 6), "source": calibration_source,
             "illustrative_items": int(items["illustrative"].sum())}
    if calibrate_to_wan_yuan is not None:
        report.add(Finding("info", "calibrated", f"estimates calibrated to the stated "
                           f"{calibrate_to_wan_yuan:,.2f}万元: raw {calib['raw_wan_yuan']:,.2f}"
                           f"万元 × factor {factor:.4f}", value=calibration_source))
    report.count("estimates", len(compounds), len(out))
    return EstimateResult(out, items.drop(columns="_pos"), calib, report)


def _fill_compound_columns(out: pd.DataFrame, items: pd.DataFrame, pos: NDArray[np.int64],
                           raw: NDArray[np.float64], cal: NDArray[np.float64], factor: float,
                           keys: list[list[str]], unknown: list[list[str]]) -> None:
    n = len(out)
    for cat in ("basic", "improvement", "upgrade"):
        m = (items["category"] == cat).to_numpy()
        out[f"estimate_{cat}_wan_yuan"] = np.round(np.bincount(
            pos[m], weights=items["cost_raw_yuan"].to_numpy()[m], minlength=n) * factor / WAN, 4)
    out["estimate_raw_wan_yuan"] = raw
    out["calibration_factor"] = round(factor, 6)
    out["estimate_wan_yuan"] = cal
    area = _numeric(out, "floor_area_m2")
    hh = _numeric(out, "households")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["yuan_per_m2"] = np.where(area > 0, np.round(cal * WAN / area, 1), np.nan)
        out["wan_yuan_per_household"] = np.where(hh > 0, np.round(cal / hh, 3), np.nan)
    out["items"] = [";".join(k) for k in keys]
    out["unknown_items"] = ["、".join(u) for u in unknown]


# ----------------------------------------------------------------------------- bundles
def bundle_labels(compounds: pd.DataFrame, *, members: pd.DataFrame | None = None,
                  level: str | None = None) -> pd.Series:
    """Return the bundle of every compound (index of *compounds*; NA when none).

    Parameters
    ----------
    compounds : DataFrame
        With ``compound_id`` and the column of *level*.
    members : DataFrame, optional
        The ``bundle_members`` table (``compound_id``, ``bundle_id``); used when given.
    level : {"pianqu", "street", "county"}, optional
        Else the compounds of one 片区 / 街道 / 县区 form a bundle (column ``district`` /
        ``street`` / ``county``); ``None``: ``pianqu``.
    """
    cid = compounds["compound_id"].astype(str)
    if members is not None and len(members) and "bundle_id" in members:
        m = dict(zip(members["compound_id"].astype(str), members["bundle_id"].astype(str),
                     strict=False))
        return cid.map(m).astype(object).rename("bundle_id")
    col = {"pianqu": "district", "street": "street", "county": "county"}.get(
        level or "pianqu", "district")
    if col not in compounds:
        return pd.Series(pd.NA, index=compounds.index, dtype=object, name="bundle_id")
    return compounds[col].astype(object).where(compounds[col].notna(), pd.NA).rename("bundle_id")


def joint_works(compounds: Any, utilities: Any, bundle_of: pd.Series, *,
                unit_costs: UnitCosts | None = None, margin_m: float = 10.0) -> pd.DataFrame:
    """Shared trench and the saving from digging once, per bundle and network.

    A line serves a member when it runs within *margin_m* of it. For every line that
    serves two members or more of one bundle, the *shared trench* is its length within
    the union of those members' reach; dug as separate projects, each member would dig
    its own reach, so the length dug twice (sum of the reaches minus their union) is the
    saving, priced at the network's ``trench_yuan_per_m``.

    Parameters
    ----------
    compounds, utilities : GeoDataFrame
        In one metric CRS (see :func:`gisplan.crs.project_layers`); ``utilities`` with
        ``utility_id`` and ``network`` (canonical key).
    bundle_of : Series
        Bundle per compound (index of *compounds*), e.g. from :func:`bundle_labels`.
    unit_costs : UnitCosts, optional
    margin_m : float, default 10

    Returns
    -------
    DataFrame
        ``bundle_id``, ``network``, ``shared_lines``, ``shared_trench_m``,
        ``dug_twice_m``, ``trench_yuan_per_m``, ``saving_wan_yuan``, ``utility_ids``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, box
    >>> c = gpd.GeoDataFrame({"compound_id": ["A", "B"]},
    ...     geometry=[box(0, 0, 100, 100), box(0, 110, 100, 210)], crs=3857)
    >>> u = gpd.GeoDataFrame({"utility_id": ["W1"], "network": ["water_supply"]},
    ...     geometry=[LineString([(0, 105), (100, 105)])], crs=3857)
    >>> j = joint_works(c, u, pd.Series(["P1", "P1"]))
    >>> j[["shared_trench_m", "dug_twice_m", "saving_wan_yuan"]].iloc[0].tolist()
    [100.0, 100.0, 2.5]
    """
    uc = unit_costs or load_unit_costs()
    cols = ["bundle_id", "network", "shared_lines", "shared_trench_m", "dug_twice_m",
            "trench_yuan_per_m", "saving_wan_yuan", "utility_ids"]
    lab = bundle_of.reindex(compounds.index).to_numpy(dtype=object)
    zones = shapely.buffer(compounds.geometry.to_numpy(), margin_m, quad_segs=4)
    lines = utilities.geometry.to_numpy()
    ok = ~(shapely.is_missing(lines) | shapely.is_empty(lines))
    ci, lj = shapely.STRtree(zones).query(np.where(ok, lines, None), predicate="intersects")[::-1]
    keep = pd.notna(lab[ci])
    pairs = pd.DataFrame({"c": ci[keep], "l": lj[keep], "b": lab[ci[keep]]})
    multi = pairs.groupby(["b", "l"])["c"].agg(list)
    multi = multi[multi.map(len) >= 2]
    net = utilities["network"].astype(str).to_numpy()
    uid = utilities["utility_id"].astype(str).to_numpy()
    recs = []
    for (b, li), cs in zip(multi.index.tolist(), multi.tolist(), strict=True):
        reach = shapely.intersection(lines[li], zones[cs])
        union = shapely.length(shapely.intersection(lines[li], shapely.union_all(zones[cs])))
        recs.append((b, net[li], uid[li], float(union), float(shapely.length(reach).sum() - union)))
    if not recs:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(recs, columns=["bundle_id", "network", "uid", "trench", "twice"])
    g = df.groupby(["bundle_id", "network"], sort=True).agg(
        shared_lines=("uid", "size"), shared_trench_m=("trench", "sum"),
        dug_twice_m=("twice", "sum"), utility_ids=("uid", ";".join)).reset_index()
    g["trench_yuan_per_m"] = g["network"].map(
        uc.table["trench_yuan_per_m"].dropna()).astype(float)
    g["shared_trench_m"] = g["shared_trench_m"].round(1)
    g["dug_twice_m"] = g["dug_twice_m"].round(1)
    g["saving_wan_yuan"] = (g["dug_twice_m"] * g["trench_yuan_per_m"].fillna(0) / WAN).round(4)
    return g[cols]


def estimate_bundles(estimates: pd.DataFrame, bundle_of: pd.Series,
                     joint: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sum member estimates per bundle and subtract the saving from digging once.

    Returns
    -------
    DataFrame
        ``bundle_id``, ``compounds``, ``households``, ``floor_area_m2``,
        ``estimate_wan_yuan`` (sum of members), ``shared_trench_m``,
        ``joint_saving_wan_yuan``, ``estimate_joint_wan_yuan``, ``compound_ids``.
    """
    df = pd.DataFrame({
        "bundle_id": bundle_of.reindex(estimates.index),
        "compound_id": estimates["compound_id"].astype(str),
        "households": _numeric(estimates, "households"),
        "floor_area_m2": _numeric(estimates, "floor_area_m2"),
        "estimate_wan_yuan": estimates["estimate_wan_yuan"].astype(float)}).dropna(
            subset=["bundle_id"])
    g = df.groupby("bundle_id", sort=True).agg(
        compounds=("compound_id", "size"), households=("households", "sum"),
        floor_area_m2=("floor_area_m2", "sum"), estimate_wan_yuan=("estimate_wan_yuan", "sum"),
        compound_ids=("compound_id", ";".join))
    if joint is not None and len(joint):
        j = joint.groupby("bundle_id")[["shared_trench_m", "saving_wan_yuan"]].sum()
    else:
        j = pd.DataFrame(columns=["shared_trench_m", "saving_wan_yuan"], dtype=float)
    g["shared_trench_m"] = j["shared_trench_m"].reindex(g.index).fillna(0.0).round(1)
    g["joint_saving_wan_yuan"] = j["saving_wan_yuan"].reindex(g.index).fillna(0.0).round(4)
    g["estimate_wan_yuan"] = g["estimate_wan_yuan"].round(4)
    g["estimate_joint_wan_yuan"] = (g["estimate_wan_yuan"] - g["joint_saving_wan_yuan"]).round(4)
    return g.reset_index()[["bundle_id", "compounds", "households", "floor_area_m2",
                            "estimate_wan_yuan", "shared_trench_m", "joint_saving_wan_yuan",
                            "estimate_joint_wan_yuan", "compound_ids"]]


# ----------------------------------------------------------------------------- adapter
def _pipe_lengths(compounds: Any, utilities: Any, margin_m: float, report: Report
                  ) -> pd.DataFrame | None:
    """Per compound × network line lengths from :func:`gisplan.join.join_utilities`."""
    if utilities is None or not len(utilities):
        return None
    from gisplan.join import join_utilities

    out = join_utilities(compounds, utilities, margin_m=margin_m)
    if isinstance(out, tuple):
        return out[0]
    report.merge(out.report)
    per: pd.DataFrame = out.per_compound
    return per


def estimate_project(
    source: ProgrammeLike,
    *,
    calibrate: bool | float = False,
    unit_costs: UnitCosts | str | Path | None = None,
    margin_m: float = 10.0,
) -> EstimateResult:
    """Estimate a programme's compounds and bundles (the adapter of this module).

    Parameters
    ----------
    source : Project or path
        The programme (layers ``compounds``; optional ``utilities``, ``bundle_members``).
    calibrate : bool or float, default False
        ``True``: calibrate to the programme's stated ``budget_total_wan_yuan``; a number:
        calibrate to that total in 万元; ``False``: unit costs only.
    unit_costs : UnitCosts or path, optional
    margin_m : float, default 10
        Reach of a compound for its pipes and for shared trenches.

    Returns
    -------
    EstimateResult
        With ``bundles`` and ``joint`` filled in.

    Examples
    --------
    >>> res = estimate_project("layers/guyuan_2022.gpkg", calibrate=True)
    >>> round(float(res.compounds["estimate_wan_yuan"].sum()), 2)
    17808.68
    >>> res.calibration["stated_wan_yuan"], round(res.calibration["factor"], 4)
    (17808.68, 1.3907)
    """
    from gisplan.crs import project_layers

    p = as_project(source)
    layers = read_layers(p, ["compounds"], optional=["utilities", "bundle_members"])
    meta = p.meta
    stated, where = _stated_total(meta, calibrate, str(p.path))
    report = Report()
    metric, _ = project_layers({"compounds": layers["compounds"],
                                "utilities": layers["utilities"]}, file=str(p.path),
                               report=report)
    pipes = _pipe_lengths(layers["compounds"], layers["utilities"], margin_m, report)
    res = estimate_compounds(layers["compounds"], unit_costs=unit_costs, pipe_lengths=pipes,
                             calibrate_to_wan_yuan=stated, calibration_source=where)
    res.report = report.merge(res.report)
    lab = bundle_labels(layers["compounds"], members=layers["bundle_members"],
                        level=meta.get("bundle_level"))
    uc = unit_costs if isinstance(unit_costs, UnitCosts) else load_unit_costs(unit_costs)
    res.joint = (joint_works(metric["compounds"], metric["utilities"], lab, unit_costs=uc,
                             margin_m=margin_m) if metric["utilities"] is not None else None)
    res.bundles = estimate_bundles(res.compounds, lab, res.joint)
    res.compounds["bundle_id"] = lab
    return res


def _stated_total(meta: dict[str, Any], calibrate: bool | float, file: str
                  ) -> tuple[float | None, str | None]:
    if calibrate is False:
        return None, None
    if calibrate is True:
        total = meta.get("budget_total_wan_yuan")
        if total is None:
            raise InputError("the programme states no total budget to calibrate to",
                             file=file, column="budget_total_wan_yuan",
                             hint="set it with: gisplan programme set STORE "
                             "budget_total_wan_yuan=…, or pass a total")
        return float(total), meta.get("budget_source") or "programme budget_total_wan_yuan"
    return float(calibrate), "given total"
