"""Validate and repair the layers of a programme (数据检查).

Every check here keeps every row: a row that cannot be used is reported as an
``error`` finding (and flagged), a row that can be repaired is repaired, flagged and
reported as a ``warning``. The returned :class:`~gisplan.findings.Report` records rows in
and rows out per layer, so that "rows in = rows out" is visible in every report.

Errors (severity ``error``): ``missing_column``, ``missing_value``, ``missing_geometry``,
``crs_missing``, ``duplicate_id``, ``wrong_geometry_type``, ``unparseable_number``,
``unparseable_value``, ``unknown_value``.

Warnings (flagged, kept): ``invalid_geometry_repaired``, ``empty_geometry``,
``lonlat_swapped``, ``missing_built_year``, ``implausible_built_year``,
``nonpositive_households``, ``overlaps_compound``, ``unit_without_geometry``.

All checks are vectorised over rows (shapely 2 array functions, numpy, pandas);
findings are built only for the rows they name.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> from gisplan.validate import validate_layer
>>> gdf = gpd.GeoDataFrame(
...     {"compound_id": ["a", "a"], "name": ["东海园区", "福平苑"]},
...     geometry=[box(106.27, 36.0, 106.271, 36.001), box(106.28, 36.0, 106.281, 36.001)],
...     crs="EPSG:4326",
... )
>>> out, report = validate_layer(gdf, "compounds")
>>> [f.code for f in report.errors]
['duplicate_id']
>>> report.counts["compounds"].balanced
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import crs as gcrs
from gisplan._errors import CRSError, InputError, SchemaError
from gisplan.findings import Finding, Report, Severity, add_flags
from gisplan.schema import LayerSchema, layer_schema, layers, suggest_terms, term, vocab, zh

if TYPE_CHECKING:
    from gisplan.store import Project

__all__ = [
    "CHINA_LAT",
    "CHINA_LON",
    "DEFECTS",
    "VOCAB_COLUMNS",
    "ValidateFramesResult",
    "ValidateResult",
    "validate_frames",
    "validate_layer",
    "validate_project",
]

#: Which columns take their values from which vocabulary of ``schema.toml``.
VOCAB_COLUMNS: dict[str, dict[str, str]] = {
    "compounds": {"status": "compound_status"},
    "districts": {"level": "district_level"},
    "utilities": {"network": "network"},
    "facilities": {"facility_type": "facility_type"},
    "roads": {"road_class": "road_class"},
    "progress_log": {"stage": "stage"},
}

#: Longitude and latitude range of China (mainland and islands), degrees.
CHINA_LON: tuple[float, float] = (73.0, 136.0)
CHINA_LAT: tuple[float, float] = (3.0, 54.0)

_TRUE = {"true", "t", "yes", "y", "1", "是", "有", "已", "√", "✓"}
_FALSE = {"false", "f", "no", "n", "0", "否", "无", "未", "×", "✗"}
_GEOM_DIM = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1,
             "Polygon": 2, "MultiPolygon": 2}
_GEOM_ZH = {"Point": "点", "MultiPoint": "多点", "LineString": "线", "MultiLineString": "多线",
            "Polygon": "面", "MultiPolygon": "多面", "GeometryCollection": "几何集合"}


class ValidateResult(NamedTuple):
    """What :func:`validate_layer` returns; unpacks as ``frame, report``."""

    frame: pd.DataFrame
    report: Report


class ValidateFramesResult(NamedTuple):
    """What :func:`validate_frames` returns; unpacks as ``frames, report``."""

    frames: dict[str, pd.DataFrame]
    report: Report


# ----------------------------------------------------------------------------- helpers


_BLANK_TEXT = np.frompyfunc(lambda v: isinstance(v, str) and not v.strip(), 1, 1)


def _is_blank(series: pd.Series) -> np.ndarray:
    """Return True where a value is missing: None, NaN, NA or a blank string."""
    isna = series.isna().to_numpy(dtype=bool)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        blank = _BLANK_TEXT(series.to_numpy(dtype=object)).astype(bool)
        return np.asarray(isna | blank, dtype=bool)
    return np.asarray(isna, dtype=bool)


def _numbers(series: pd.Series) -> pd.Series:
    """Return *series* as float, NaN where a value is missing or not a number."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    ):
        return series.astype("float64")
    return pd.to_numeric(series.astype("string").str.strip(), errors="coerce").astype("float64")


def _keep_dimension(geoms: np.ndarray, dim: int) -> np.ndarray:
    """Keep the parts of dimension *dim* (0 points, 1 lines, 2 polygons) of each geometry.

    Single parts come back as they are (a Polygon stays a Polygon); several parts are
    combined into one Multi geometry; a geometry without such parts becomes empty.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    mixed = shapely.get_type_id(geoms) == 7  # GeometryCollection
    if not mixed.any():
        return out
    sub = geoms[mixed]
    parts, idx = shapely.get_parts(sub, return_index=True)
    while (nested := shapely.get_type_id(parts) == 7).any():  # collections in collections
        inner, inner_idx = shapely.get_parts(parts[nested], return_index=True)
        idx = np.concatenate([idx[~nested], idx[nested][inner_idx]])
        parts = np.concatenate([parts[~nested], inner])
    keep = shapely.get_dimensions(parts) == dim
    parts, j = shapely.get_parts(parts[keep], return_index=True)  # split Multi parts too
    idx = idx[keep][j]
    multi = np.full(len(sub), None, dtype=object)
    if len(parts):
        if dim == 0:
            shapely.multipoints(parts, indices=idx, out=multi)
        elif dim == 1:
            shapely.multilinestrings(parts, indices=idx, out=multi)
        else:
            shapely.multipolygons(parts, indices=idx, out=multi)
    n_parts = np.bincount(idx, minlength=len(sub))
    single = n_parts == 1
    if single.any():
        multi[single] = shapely.get_geometry(multi[single], 0)
    empty = {0: "POINT EMPTY", 1: "LINESTRING EMPTY", 2: "POLYGON EMPTY"}[dim]
    multi[n_parts == 0] = shapely.from_wkt(empty)
    out[mixed] = multi
    return out


def _source_rows(frame: pd.DataFrame) -> np.ndarray | None:
    """Return the source row of each row of *frame* (``attrs["source_rows"]``), or None.

    The readers (:mod:`gisplan.read`) give each record the row the user sees (the Excel
    sheet row, the CSV line) in ``attrs["source_rows"]``, aligned with their index
    ``0..n-1``. pandas keeps ``attrs`` through filtering and sorting, which keep the
    index labels, so the labels (not the positions) pick the source rows. None when
    the frame carries no source rows or its index does not fit them.
    """
    src = frame.attrs.get("source_rows")
    if src is None:
        return None
    src = np.asarray(src)
    labels = frame.index.to_numpy()
    if len(labels) == 0 or not np.issubdtype(labels.dtype, np.integer) \
            or labels.min() < 0 or labels.max() >= len(src):
        return None
    return src[labels]


@dataclass
class _Layer:
    """The state of one layer while it is being validated."""

    frame: pd.DataFrame
    schema: LayerSchema
    file: str | None
    findings: list[Finding] = field(default_factory=list)
    flagged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    repaired: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    polygon_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    expected_bounds: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.frame)
        self.flagged = np.zeros(n, dtype=bool)
        self.repaired = np.zeros(n, dtype=bool)
        idc = self.schema.id
        self._ids: np.ndarray | None = (
            self.frame[idc].to_numpy(dtype=object) if idc in self.frame.columns else None
        )
        self._source_rows = _source_rows(self.frame)

    @property
    def name(self) -> str:
        return self.schema.name

    def row_number(self, i: int) -> int:
        """Return the row the user sees for position *i*: source row, else 1-based position."""
        return int(self._source_rows[i]) if self._source_rows is not None else i + 1

    def row(self, i: int) -> str:
        """Label row *i* (0-based position) by its row number and its id."""
        label = str(self.row_number(i))
        if self._ids is not None:
            v = self._ids[i]
            if v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA:
                label += f" ({self.schema.id}={v})"
        return label

    def add(self, severity: Severity, code: str, message: str, *, row: Any = None,
            column: str | None = None, value: Any = None, hint: str | None = None) -> None:
        self.findings.append(Finding(severity, code, message, file=self.file, layer=self.name,
                                     row=row, column=column, value=value, hint=hint))

    def flag(self, mask: np.ndarray, code: str) -> None:
        add_flags(self.frame, mask, code)
        self.flagged |= np.asarray(mask, dtype=bool)

    def add_rows(self, severity: Severity, code: str, mask: np.ndarray, message: str, *,
                 column: str | None = None, values: Any = None, hint: str | None = None,
                 messages: Any = None) -> None:
        """Flag the rows in *mask* with *code* and add one finding per row.

        Every row is flagged; the findings are listed up to the one cap policy
        (:meth:`gisplan.findings.Report.add_capped`).
        """
        pos = np.flatnonzero(mask)
        if not len(pos):
            return
        self.flag(mask, code)
        vals = (np.asarray(values, dtype=object)[pos] if values is not None
                else np.full(len(pos), None, dtype=object))
        msgs = messages if messages is not None else [message] * len(pos)
        report = Report()
        report.add_capped(
            (Finding(severity, code, m, file=self.file, layer=self.name, row=self.row(i),
                     column=column, value=v, hint=hint)
             for i, v, m in zip(pos.tolist(), vals.tolist(), msgs, strict=True)),
            total=len(pos))
        self.findings.extend(report.findings)


# ----------------------------------------------------------------------------- checks


def _check_columns(st: _Layer) -> None:
    """Check that required columns are present and filled, and values have the right type."""
    sch, frame = st.schema, st.frame
    for col in sch.columns:
        if col.required and col.name not in frame.columns:
            aliases = "、".join((col.zh, *col.aliases[:4]))
            st.add("error", "missing_column",
                   f"required column '{col.name}' ({col.zh}) is missing",
                   column=col.name,
                   hint=f"add a column '{col.name}' (headers also recognised: {aliases})")
    for col in sch.columns:
        if col.name not in frame.columns or col.name == "flags":
            continue
        s = frame[col.name]
        blank = _is_blank(s)
        if col.required:
            st.add_rows("error", "missing_value", blank,
                        f"required column '{col.name}' ({col.zh}) is empty", column=col.name,
                        hint=f"fill in {col.zh} for this row")
        if col.dtype in ("int", "float"):
            num = _numbers(s).to_numpy()
            bad = ~blank & np.isnan(num)
            if col.dtype == "int":
                frac = ~np.isnan(num) & (np.mod(np.nan_to_num(num), 1) != 0)
                st.add_rows("error", "unparseable_number", frac,
                            f"{col.zh} must be a whole number", column=col.name,
                            values=s.to_numpy(dtype=object),
                            hint=f"write {col.zh} as a whole number, e.g. 1435")
            st.add_rows("error", "unparseable_number", bad,
                        f"{col.zh} is not a number", column=col.name,
                        values=s.to_numpy(dtype=object),
                        hint=f"write {col.zh} as a plain number, e.g. 1435 or 64180.5 "
                             "(`gisplan import` also reads '1,435户', '6.418万平方米')")
        elif col.dtype == "bool" and not pd.api.types.is_bool_dtype(s.dtype):
            text = s.astype("string").str.strip().str.lower()
            ok = text.isin(_TRUE | _FALSE).fillna(False).to_numpy(dtype=bool)
            st.add_rows("error", "unparseable_value", ~blank & ~ok,
                        f"{col.zh} must be yes or no", column=col.name,
                        values=s.to_numpy(dtype=object), hint="write 是 or 否 (yes/no, 1/0)")
        elif col.dtype in ("date", "datetime"):
            if pd.api.types.is_datetime64_any_dtype(s.dtype):
                continue
            parsed = pd.to_datetime(s.astype("string"), errors="coerce", format="mixed")
            bad = ~blank & parsed.isna().to_numpy(dtype=bool)
            st.add_rows("error", "unparseable_value", bad, f"{col.zh} is not a date",
                        column=col.name, values=s.to_numpy(dtype=object),
                        hint="write dates as 2023-06-30")


def _check_vocab(st: _Layer) -> None:
    """Values of vocabulary columns must be known terms (or their aliases)."""
    for column, vocab_name in VOCAB_COLUMNS.get(st.name, {}).items():
        if column not in st.frame.columns:
            continue
        s = st.frame[column]
        blank = _is_blank(s)
        uniq = pd.unique(s[~blank].astype(str))
        unknown = [u for u in uniq if term(vocab_name, u) is None]
        if not unknown:
            continue
        terms = vocab(vocab_name)
        known = "、".join(f"{t.zh} ({k})" for k, t in terms.items())
        values = s.astype(str).to_numpy(dtype=object)
        for u in unknown:
            keys = suggest_terms(vocab_name, u)
            close = "; did you mean " + " or ".join(f"{zh(vocab_name, k)} ({k})" for k in keys) \
                if keys else ""
            mask = ~blank & (values == u)
            st.add_rows("error", "unknown_value", mask,
                        f"'{u}' is not a known {vocab_name.replace('_', ' ')}{close}",
                        column=column, values=values,
                        hint=f"use one of: {known} (aliases are listed in schema.toml)")


def _check_ids(st: _Layer) -> None:
    """Ids must be unique: every row sharing an id is named."""
    if st.schema.kind != "spatial" and st.name != "progress_log":
        return  # plan tables are keyed by several columns
    idc = st.schema.id
    if idc not in st.frame.columns:
        return
    s = st.frame[idc]
    ids = s.astype(str).where(~_is_blank(s))
    dup = ids.duplicated(keep=False).to_numpy(dtype=bool) & ~_is_blank(s)
    if not dup.any():
        return
    st.flag(dup, "duplicate_id")
    pos = np.flatnonzero(dup)
    groups = pd.Series(pos, index=ids.to_numpy()[pos]).groupby(level=0, sort=False)

    def finding(value: Any, rows: pd.Series) -> Finding:
        numbers = [st.row_number(int(i)) for i in rows.to_numpy()]
        where = ", ".join(map(str, numbers))
        return Finding("error", "duplicate_id",
                       f"{len(rows)} rows share {idc} '{value}' (rows {where})", file=st.file,
                       layer=st.name, row=numbers, column=idc, value=value,
                       hint=f"give each row its own {idc}, or merge the duplicated rows")

    listed = Report()
    listed.add_capped((finding(v, rows) for v, rows in groups), total=groups.ngroups)
    st.findings.extend(listed.findings)


def _swap_lonlat(st: _Layer, gdf: gpd.GeoDataFrame, geoms: np.ndarray, present: np.ndarray) -> None:
    """Swap x and y of geometries whose x looks like a Chinese latitude and y a longitude."""
    crs = gdf.crs
    if crs is not None and not crs.is_geographic:
        return
    b = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        swapped = (present & (b[:, 0] >= CHINA_LAT[0]) & (b[:, 2] <= CHINA_LAT[1])
                   & (b[:, 1] >= CHINA_LON[0]) & (b[:, 3] <= CHINA_LON[1]))
    if not swapped.any():
        return
    geoms[swapped] = shapely.transform(geoms[swapped], lambda c: c[:, ::-1])
    st.repaired |= swapped
    x = np.round(b[:, 0], 5)
    y = np.round(b[:, 1], 5)
    st.add_rows("warning", "lonlat_swapped", swapped,
                "coordinates look like (latitude, longitude); swapped to (longitude, latitude)",
                column="geometry", values=[f"x={a}, y={c}" for a, c in zip(x, y, strict=True)],
                hint="write longitude as x and latitude as y (经度在前，纬度在后) in the source")


def _check_crs(st: _Layer, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Infer a missing CRS from the coordinates (``gisplan.crs.infer_crs``), or report it."""
    if gdf.crs is not None:
        return gdf
    try:
        crs, finding = gcrs.infer_crs(gdf, file=st.file, layer=st.name)
    except CRSError as exc:
        st.add("error", "crs_missing", exc.message, column="geometry", value=exc.value,
               hint=exc.hint)
        return gdf
    if finding is not None:
        st.findings.append(finding)
    return gdf.set_crs(crs, allow_override=True)


def _check_crs_plausible(st: _Layer) -> None:
    """Report coordinates that do not fit the layer's CRS or lie far from the programme."""
    gdf = st.frame
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None:
        return
    try:
        gcrs.check_plausible(gdf, expected=st.expected_bounds, declared_by="the layer",
                             file=st.file, layer=st.name)
    except CRSError as exc:
        st.add("error", "crs_implausible", exc.message, column="geometry", value=exc.value,
               hint=(exc.hint or "") + " (import the layer again with that --crs)")


def _check_geometry(st: _Layer) -> None:
    """Missing, empty, swapped, wrongly typed and invalid geometries."""
    frame = st.frame
    if not isinstance(frame, gpd.GeoDataFrame) or frame._geometry_column_name not in frame:
        st.add("error", "missing_geometry", f"the {st.name} layer has no geometry column",
               column="geometry",
               hint="import the layer from a spatial file (GeoPackage, GeoJSON, Shapefile) or "
                    "from a table with lon/lat or WKT columns")
        return
    gdf: gpd.GeoDataFrame = frame
    gcol = gdf.geometry.name
    geoms = gdf.geometry.to_numpy().copy()
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    present = ~missing & ~empty

    if st.name == "districts":
        st.add_rows("warning", "unit_without_geometry", missing,
                    "the unit has no polygon; its rows are kept but cannot be mapped",
                    column=gcol, hint="add the boundary, or keep it as a unit without a map")
    else:
        st.add_rows("error", "missing_geometry", missing, f"the {st.schema.zh} has no geometry",
                    column=gcol, hint="draw the outline, or give lon/lat (or WKT) in the source")
    st.add_rows("warning", "empty_geometry", empty, "the geometry is empty", column=gcol,
                hint="draw the outline again in the source")

    _swap_lonlat(st, gdf, geoms, present)

    allowed = st.schema.geometry
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                      "MultiLineString", "MultiPolygon", "GeometryCollection"], dtype=object)
    type_names = np.where(types >= 0, names[np.clip(types, 0, 7)], None)
    wrong = present & ~np.isin(type_names, list(allowed))
    if wrong.any():
        expected = " or ".join(f"{a} ({_GEOM_ZH[a]})" for a in allowed)
        st.add_rows("error", "wrong_geometry_type", wrong,
                    f"a {st.name} row must be {expected}", column=gcol, values=type_names,
                    messages=[f"{t} ({_GEOM_ZH.get(str(t), '')}) where a {st.name} row must "
                              f"be {expected}" for t in type_names[wrong]],
                    hint=f"keep only {expected} features in the {st.name} layer")

    dims = {_GEOM_DIM[a] for a in allowed}
    invalid = present & ~wrong & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        if dims == {2}:
            fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
            fixed = _keep_dimension(fixed, 2)
        else:
            fixed = _keep_dimension(shapely.make_valid(geoms[invalid]), max(dims))
        geoms[invalid] = fixed
        st.repaired |= invalid
        new_types = shapely.get_type_id(fixed)
        part = "polygonal" if dims == {2} else "matching"
        msgs = [f"invalid geometry ({r.split('[')[0].strip()}) repaired with make_valid, kept "
                f"the {part} part as {names[t] if t >= 0 else '—'}"
                for r, t in zip(reasons, new_types, strict=True)]
        vals = np.full(len(geoms), None, dtype=object)
        vals[invalid] = reasons
        st.add_rows("warning", "invalid_geometry_repaired", invalid, "", column=gcol,
                    values=vals, messages=msgs,
                    hint="check the repaired outline; fix the source to make the warning go away")
        collapsed = shapely.is_empty(fixed)
        if collapsed.any():
            lost = np.zeros(len(geoms), dtype=bool)
            lost[np.flatnonzero(invalid)[collapsed]] = True
            st.add_rows("warning", "empty_geometry", lost,
                        "the repaired geometry has no area left", column=gcol,
                        hint="draw the outline again in the source")
    st.polygon_ok = present & ~wrong & (shapely.get_dimensions(geoms) == 2) & ~shapely.is_empty(
        geoms)
    if st.repaired.any():
        st.frame = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs).rename(
            gcol))
    st.frame = _check_crs(st, st.frame)


@dataclass(frozen=True)
class _Defect:
    """A value that is readable but cannot be right: flagged and kept, never dropped."""

    layer: str
    column: str
    code: str
    test: str  # "missing", "nonpositive", "future" (year), "year" (before the first or future)
    message: str
    hint: str


#: The value defects ``import`` and ``check`` flag (severity ``warning``: the row is kept).
DEFECTS: tuple[_Defect, ...] = (
    _Defect("compounds", "households", "missing_households", "missing",
            "the number of households (户数) is missing",
            "fill in 户数: eligibility, bundling and coverage weigh compounds by households"),
    _Defect("compounds", "households", "nonpositive_households", "nonpositive",
            "the number of households (户数) is zero or negative",
            "check the household count in the survey (摸底调查) and write it, e.g. 1435"),
    _Defect("compounds", "floor_area_m2", "nonpositive_floor_area", "nonpositive",
            "the floor area (住宅建筑面积) is zero or negative",
            "check the floor area in the survey and write it in m², e.g. 64180"),
    _Defect("compounds", "buildings", "nonpositive_buildings", "nonpositive",
            "the number of buildings (楼栋数) is zero or negative",
            "check the number of buildings in the survey"),
    _Defect("compounds", "built_year", "missing_built_year", "missing",
            "the build year (建成年份) is missing",
            "fill in the build year: eligibility depends on it (built by end 2000)"),
    _Defect("compounds", "built_year", "implausible_built_year", "year",
            "the build year (建成年份)",
            "check the build year in the survey (摸底调查), e.g. 1998"),
    _Defect("facilities", "capacity", "nonpositive_capacity", "nonpositive",
            "the capacity (规模) is zero or negative",
            "write the capacity (places, beds) or leave the cell empty if unknown"),
    _Defect("utilities", "diameter_mm", "nonpositive_diameter", "nonpositive",
            "the pipe diameter (管径) is zero or negative",
            "write the diameter in millimetres, e.g. 300, or leave it empty if unknown"),
    _Defect("utilities", "install_year", "implausible_install_year", "future",
            "the year laid (敷设年份)",
            "check the year the line was laid, e.g. 1995"),
)

#: Floor area per household (m²) outside this range is flagged: usually a unit slip
#: (6.4 written for 6.4万平方米) or households and floor area of different compounds.
FLOOR_AREA_PER_HOUSEHOLD_M2: tuple[float, float] = (10.0, 500.0)


def _defect_mask(d: _Defect, s: pd.Series, *, today: dt.date,
                 min_built_year: int) -> np.ndarray:
    if d.test == "missing":
        return _is_blank(s)
    num = _numbers(s).to_numpy()
    with np.errstate(invalid="ignore"):
        if d.test == "nonpositive":
            bad = num <= 0
        elif d.test == "future":
            bad = num > today.year
        else:  # "year"
            bad = (num < min_built_year) | (num > today.year)
    return np.asarray(~np.isnan(num) & bad, dtype=bool)


def _check_defects(st: _Layer, *, today: dt.date, min_built_year: int) -> None:
    """Values that are readable but cannot be right (:data:`DEFECTS`): flagged, kept."""
    frame = st.frame
    for d in DEFECTS:
        if d.layer != st.name or d.column not in frame.columns:
            continue
        s = frame[d.column]
        mask = _defect_mask(d, s, today=today, min_built_year=min_built_year)
        if not mask.any():
            continue
        values = s.to_numpy(dtype=object)
        messages = None
        if d.test in ("future", "year"):
            messages = [f"{d.message} {v} is in the future (after {today.year})"
                        if float(v) > today.year else f"{d.message} {v} is before {min_built_year}"
                        for v in values[mask]]
        st.add_rows("warning", d.code, mask, d.message, column=d.column,
                    values=None if d.test == "missing" else values, hint=d.hint,
                    messages=messages)
    if st.name == "compounds":
        _check_area_per_household(st)


def _check_area_per_household(st: _Layer) -> None:
    """Floor area per household far outside :data:`FLOOR_AREA_PER_HOUSEHOLD_M2`."""
    frame = st.frame
    if not {"floor_area_m2", "households"} <= set(frame.columns):
        return
    area = _numbers(frame["floor_area_m2"]).to_numpy()
    hh = _numbers(frame["households"]).to_numpy()
    lo, hi = FLOOR_AREA_PER_HOUSEHOLD_M2
    with np.errstate(invalid="ignore", divide="ignore"):
        per = area / hh
        odd = (area > 0) & (hh > 0) & ((per < lo) | (per > hi))
    if not odd.any():
        return
    st.add_rows("warning", "implausible_floor_area", odd, "",
                column="floor_area_m2", values=area,
                messages=[f"{a:,.10g} m² for {h:,.0f} households is {p:,.1f} m² per household "
                          f"(expected {lo:.0f}–{hi:.0f})"
                          for a, h, p in zip(area[odd], hh[odd], per[odd], strict=True)],
                hint="check the unit of the floor area (m², or 万平方米 = 10,000 m²) and the "
                     "household count")


_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


def _overlapping_pairs(
    geoms: np.ndarray, *, tolerance: float, m2_per_unit2: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return candidate pairs ``(i, j)``, ``i < j``, of polygons whose interiors intersect.

    Catches partial overlaps, containment and duplicates alike. Candidates come from an
    STRtree bounding-box query; pairs whose bounding boxes share less than *tolerance*
    (after scaling by *m2_per_unit2*, an upper bound of square metres per square unit)
    cannot overlap by more and are dropped on arrays; the rest are tested with one
    vectorised DE-9IM ``relate_pattern`` (interiors intersect). This is the
    ``query(predicate="overlaps")`` test extended to containment, and several times
    faster on dense cities, where most candidate pairs only touch.
    """
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms)
    keep = i < j
    i, j = i[keep], j[keep]
    bb = shapely.bounds(geoms)
    w = np.minimum(bb[i, 2], bb[j, 2]) - np.maximum(bb[i, 0], bb[j, 0])
    h = np.minimum(bb[i, 3], bb[j, 3]) - np.maximum(bb[i, 1], bb[j, 1])
    keep = (w > 0) & (h > 0) & (w * h * m2_per_unit2 >= tolerance)
    i, j = i[keep], j[keep]
    keep = shapely.relate_pattern(geoms[i], geoms[j], "T********")
    return i[keep], j[keep]


def _check_overlaps(st: _Layer, *, tolerance_m2: float) -> None:
    """Compounds overlapping (or containing) each other by *tolerance_m2* or more.

    The topology is tested in the layer's CRS; only the geometries of overlapping pairs
    are projected to the metric CRS (``gisplan.crs.metric_crs``) to measure the overlap.
    """
    gdf = st.frame
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None or len(gdf) < 2:
        return
    geoms = gdf.geometry.to_numpy()
    pos = np.flatnonzero(st.polygon_ok)
    if len(pos) < 2:
        return
    sub = geoms[pos]
    if gdf.crs.is_geographic:
        b = shapely.bounds(sub)
        lat = float(np.clip(np.nanmin(np.abs(b[:, [1, 3]])), 0.0, 89.0))
        scale = _M_PER_DEG_LAT * _M_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat)) * 1.01
    else:
        scale = 1.0
    a, b_ = _overlapping_pairs(sub, tolerance=tolerance_m2, m2_per_unit2=scale)
    if not len(a):
        return
    inter = gpd.GeoSeries(shapely.intersection(sub[a], sub[b_]), crs=gdf.crs)
    if gdf.crs.is_geographic:
        inter = inter.to_crs(gcrs.metric_crs(gpd.GeoSeries(sub, crs=gdf.crs)))
    area = inter.area.to_numpy()
    big = area >= tolerance_m2
    a, b_, area = pos[a[big]], pos[b_[big]], area[big]
    if not len(a):
        return
    mask = np.zeros(len(gdf), dtype=bool)
    mask[a] = True
    mask[b_] = True
    st.flag(mask, "overlaps_compound")
    ids = st._ids
    listed = Report()
    listed.add_capped(
        (Finding("warning", "overlaps_compound",
                 f"overlaps compound at row {st.row(j)} by {m2:,.0f} m²", file=st.file,
                 layer=st.name, row=st.row(i), column="geometry",
                 value=ids[j] if ids is not None else None,
                 hint="redraw the shared boundary so that the compounds do not overlap "
                      "(one piece of land belongs to one compound)")
         for i, j, m2 in zip(a.tolist(), b_.tolist(), area.tolist(), strict=True)),
        total=len(a))
    st.findings.extend(listed.findings)


# ----------------------------------------------------------------------------- public API


def validate_layer(
    frame: pd.DataFrame,
    layer: str,
    *,
    file: str | None = None,
    today: dt.date | None = None,
    min_built_year: int = 1900,
    overlap_tolerance_m2: float = 1.0,
    expected_bounds: tuple[float, ...] | None = None,
) -> ValidateResult:
    """Validate one layer; repair what can be repaired, flag it, and keep every row.

    Parameters
    ----------
    frame : pandas.DataFrame or geopandas.GeoDataFrame
        The layer with canonical column names (as read by ``gisplan.read`` or
        ``Project.read``). Not modified. When it carries ``attrs["source_rows"]`` (the
        readers' sheet rows or CSV lines), findings name those rows, as the user sees
        them in Excel; otherwise the 1-based position.
    layer : str
        Canonical layer name (``compounds``, ``districts``, ``utilities``, ...).
    file : str, optional
        Source file named in the findings.
    today : datetime.date, optional
        Build years after this year are implausible; defaults to today.
    min_built_year : int, default 1900
        Build years before this are implausible.
    overlap_tolerance_m2 : float, default 1.0
        Overlaps between compounds smaller than this (slivers from digitising) are ignored.
    expected_bounds : tuple of 4 floats, optional
        (west, south, east, north) in degrees of the programme; a layer lying far from
        it is in a wrong CRS (``crs_implausible``). None: only the CRS's area of use is
        checked.

    Returns
    -------
    ValidateResult
        ``frame``: a copy with the same rows and index, repaired geometries and a
        ``flags`` column (a GeoDataFrame for a spatial layer); ``report``: findings, and
        rows in / rows out / flagged / repaired for *layer*. Unpacks as ``frame, report``.

    Raises
    ------
    gisplan.InputError
        When *layer* is not a layer of the schema.
    """
    if layer not in layers():
        raise InputError(f"'{layer}' is not a layer gisplan knows", file=file, layer=layer,
                         hint=f"use one of: {', '.join(layers())}")
    schema = layer_schema(layer)
    rows_in = len(frame)
    st = _Layer(frame.copy(), schema, None if file is None else str(file),
                expected_bounds=expected_bounds)
    _check_columns(st)
    _check_vocab(st)
    _check_ids(st)
    if schema.kind == "spatial":
        _check_geometry(st)
        _check_crs_plausible(st)
    _check_defects(st, today=today or dt.date.today(), min_built_year=min_built_year)
    if layer == "compounds":
        _check_overlaps(st, tolerance_m2=overlap_tolerance_m2)
    if "flags" not in st.frame.columns:
        add_flags(st.frame, np.zeros(len(st.frame), dtype=bool), "")
    report = Report(findings=st.findings)
    out = st.frame
    report.count(layer, rows_in, len(out), flagged=int(st.flagged.sum()),
                 repaired=int(st.repaired.sum()))
    return ValidateResult(out, report)


def validate_frames(
    frames: Mapping[str, pd.DataFrame],
    *,
    file: str | None = None,
    today: dt.date | None = None,
    overlap_tolerance_m2: float = 1.0,
) -> ValidateFramesResult:
    """Validate several layers at once (the layers of one programme).

    Layers that are not in the schema (analysis outputs such as ``bundles``) are passed
    through unchanged and not counted.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Layer name to frame.
    file : str, optional
        The programme file, named in the findings.
    today : datetime.date, optional
        See :func:`validate_layer`.
    overlap_tolerance_m2 : float, default 1.0
        See :func:`validate_layer`.

    Returns
    -------
    ValidateFramesResult
        ``frames``: every layer, repaired and flagged where the schema knows it;
        ``report``: the findings and counts of every validated layer. Unpacks as
        ``frames, report``.
    """
    report = Report()
    out: dict[str, pd.DataFrame] = {}
    known = layers()
    order = sorted(frames, key=lambda n: n != "compounds")  # compounds first: the extent
    expected = None
    for name in order:
        frame = frames[name]
        if name not in known:
            out[name] = frame
            continue
        out[name], rep = validate_layer(frame, name, file=file, today=today,
                                        overlap_tolerance_m2=overlap_tolerance_m2,
                                        expected_bounds=expected)
        report.merge(rep)
        if name == "compounds" and not any(f.code == "crs_implausible" for f in rep):
            expected = _extent(out[name])
    out = {name: out[name] for name in frames}
    return ValidateFramesResult(out, report)


def _extent(frame: pd.DataFrame) -> tuple[float, ...] | None:
    """Lon/lat bounds of a layer, or None when it has no CRS or no coordinates."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        return None
    try:
        return gcrs.geographic_bounds(frame)
    except CRSError:
        return None


def validate_project(
    project: Project,
    *,
    today: dt.date | None = None,
    overlap_tolerance_m2: float = 1.0,
) -> Report:
    """Validate every canonical layer of a programme store.

    Parameters
    ----------
    project : gisplan.store.Project
        The programme (read only; nothing is written).
    today, overlap_tolerance_m2
        See :func:`validate_layer`.

    Returns
    -------
    gisplan.findings.Report
        Findings and per-layer counts.

    Examples
    --------
    >>> from gisplan.store import Project
    >>> report = validate_project(Project.open("layers/guyuan_2022.gpkg"))
    >>> report.counts["compounds"].rows_in, report.ok
    (26, True)
    """
    _, report = validate_frames(read_canonical_layers(project), file=str(project.path), today=today,
                                overlap_tolerance_m2=overlap_tolerance_m2)
    return report


def read_canonical_layers(project: Project) -> dict[str, pd.DataFrame]:
    """Read the canonical layers present in *project* (analysis outputs are left out).

    A layer whose values do not fit the canonical dtypes (a GeoPackage edited in QGIS,
    with ``"1,435户"`` typed into ``households``) is read as it is stored, so that
    validation can name every bad row instead of stopping at the first.
    """
    import pyogrio

    known = layers()
    out: dict[str, pd.DataFrame] = {}
    for name in project.layers():
        if name not in known:
            continue
        try:
            out[name] = project.read(name)
        except SchemaError:
            out[name] = pyogrio.read_dataframe(project.path, layer=name)
    return out
