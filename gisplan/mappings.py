"""Column and value mappings a user gives once and reuses (表头对应、取值对应).

A county office's file keeps its own headers and its own words. Rather than renaming
columns or editing values every week, the user says once how they read:

- ``--map 原列名=canonical`` maps one header to a column (:func:`parse_map_options`);
- ``--vocab facility_type=FILE.csv`` maps values as written to terms from a two-column
  file (:func:`load_vocab_file`);
- ``--save-mapping FILE.toml`` saves the header mapping actually used, automatic and
  given, and the value maps (:class:`SavedMapping`); ``--mapping FILE.toml`` reuses it.

Examples
--------
>>> m = SavedMapping("compounds", {"小区名": "name", "户数（户）": "households"})
>>> SavedMapping.from_toml(m.to_toml()) == m
True
>>> try:
...     parse_map_options(["小区名=name", "门牌=备注地址"], "compounds")
... except InputError as exc:
...     print(str(exc).split(" (value")[0])
--map '门牌=备注地址': '备注地址' is not a column of compounds
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gisplan._errors import InputError

__all__ = ["SavedMapping", "load_vocab_file", "parse_map_options", "parse_vocab_options"]

_GEOMETRY = {"__lon__": "lon", "__lat__": "lat", "__wkt__": "wkt"}


def _columns_hint(layer_kind: str) -> str:
    from gisplan.schema import layer_schema

    sch = layer_schema(layer_kind)
    names = [c for c in sch.column_names if c != "flags"]
    geo = ", or lon, lat, wkt" if sch.kind == "spatial" else ""
    return f"write 原列名=column with a column of {layer_kind}: {', '.join(names)}{geo}"


def parse_map_options(values: Sequence[str], layer_kind: str) -> dict[str, str]:
    """Read ``--map 原列名=canonical`` options into {header as written: canonical column}.

    The right-hand side may be the canonical name (``households``), the Chinese name
    (``户数``), an alias, or ``lon``/``lat``/``wkt`` for a spatial layer.

    Raises
    ------
    InputError
        An option without ``=``, with an empty side, or naming no column of the layer;
        the message names ``--map``, the value and the fix.

    Examples
    --------
    >>> parse_map_options(["户 数=户数", "X坐标=lon"], "compounds")
    {'户 数': 'households', 'X坐标': 'lon'}
    """
    from gisplan.read import canonical_target

    out: dict[str, str] = {}
    for value in values:
        header, sep, target = str(value).partition("=")
        header, target = header.strip(), target.strip()
        if not sep or not header or not target:
            raise InputError(f"--map '{value}': not of the form 原列名=column",
                             value=value, hint="e.g. --map 小区名=name --map 所在街道=street")
        canonical = canonical_target(target, layer_kind)
        if canonical is None:
            raise InputError(f"--map '{value}': '{target}' is not a column of {layer_kind}",
                             value=target, hint=_columns_hint(layer_kind))
        out[header] = _GEOMETRY.get(canonical, canonical)
    return out


def _vocab_name(layer_kind: str, column: str) -> str | None:
    from gisplan.read import VOCAB_COLUMNS

    return VOCAB_COLUMNS.get((layer_kind, column))


def _decode(data: bytes, *, file: str, option: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InputError(f"{option}: the file is neither UTF-8 nor GBK text", file=file,
                         hint="save it as UTF-8 text (Excel: 另存为 → CSV UTF-8); a mapping "
                         "is the TOML file --save-mapping wrote") from exc


def load_vocab_file(column: str, path: str | Path, layer_kind: str) -> dict[str, str]:
    r"""Read a two-column value map (value as written, term) for *column* of *layer_kind*.

    A CSV in UTF-8 or GBK; a first row whose second cell is no term is taken as a header
    (``原值,类型``). The term may be the key (``kindergarten``), its Chinese name
    (``幼儿园``) or an alias.

    Raises
    ------
    InputError
        *column* takes no vocabulary, the file is missing, a row has not two cells, or a
        term is unknown: the message names ``--vocab``, the row, the value and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "类型.csv"
    >>> _ = f.write_text("原值,类型\n社区诊所,卫生服务站\n快递柜,parcel_locker\n",
    ...                  encoding="utf-8")
    >>> load_vocab_file("facility_type", f, "facilities")
    {'社区诊所': 'health_station', '快递柜': 'parcel_locker'}
    """
    from gisplan.read import VOCAB_COLUMNS
    from gisplan.schema import term, vocab

    option = f"--vocab {column}={path}"
    name = _vocab_name(layer_kind, column)
    if name is None:
        columns = [c for (lk, c) in VOCAB_COLUMNS if lk == layer_kind]
        raise InputError(f"{option}: {column} of {layer_kind} takes no vocabulary",
                         value=column, hint="map values of one of: "
                         + (", ".join(columns) or f"(no column of {layer_kind} has one)")
                         + "; or --vocab osm for an OpenStreetMap export")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{option}: file not found", file=str(path), value=str(path),
                         hint="give a CSV with two columns: value as written, term")
    text = _decode(path.read_bytes(), file=str(path), option=option)
    rows = [r for r in csv.reader(io.StringIO(text))
            if any(c.strip() for c in r)]
    out: dict[str, str] = {}
    terms = ", ".join(list(vocab(name))[:12])
    for i, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row if c.strip()]
        if len(cells) != 2:
            raise InputError(f"{option}: row {i} has {len(cells)} filled cell(s), not 2",
                             file=str(path), row=i, value=",".join(row),
                             hint="one value as written and one term per row, e.g. 社区诊所,"
                             "health_station")
        key = term(name, cells[1])
        if key is None:
            if i == 1:
                continue  # a header row: 原值,类型
            raise InputError(f"{option}: row {i}: '{cells[1]}' is not a {column} term",
                             file=str(path), row=i, value=cells[1],
                             hint=f"use a term of {name} (key or Chinese name): {terms}, ...")
        out[cells[0]] = key
    return out


def parse_vocab_options(values: Sequence[str], layer_kind: str
                        ) -> dict[str, dict[str, str]]:
    """Read ``--vocab column=FILE.csv`` options (not ``osm``) into value maps per column.

    Examples
    --------
    >>> try:
    ...     parse_vocab_options(["facility_type"], "facilities")
    ... except InputError as exc:
    ...     print(exc.hint)
    e.g. --vocab facility_type=设施类型对照.csv, or --vocab osm for an OpenStreetMap export
    """
    out: dict[str, dict[str, str]] = {}
    for value in values:
        column, sep, file = str(value).partition("=")
        if not sep or not column.strip() or not file.strip():
            raise InputError(f"--vocab '{value}': not of the form column=FILE.csv",
                             value=value, hint="e.g. --vocab facility_type=设施类型对照.csv, "
                             "or --vocab osm for an OpenStreetMap export")
        out[column.strip()] = load_vocab_file(column.strip(), file.strip(), layer_kind)
    return out


def _quote(text: str) -> str:
    """Quote *text* as a TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(str(text), ensure_ascii=False)


@dataclass(frozen=True)
class SavedMapping:
    """A header mapping (and value maps) saved for next week's file.

    Attributes
    ----------
    layer : str
        The layer the file holds (``compounds``, ``progress_log``, ...).
    columns : dict
        Header as written → canonical column (``lon``/``lat``/``wkt`` for geometry).
    vocab : dict
        Column → {value as written → term}.
    """

    layer: str
    columns: dict[str, str]
    vocab: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_header_map(cls, layer: str, header_map: Mapping[str, str], *,
                        vocab: Mapping[str, Mapping[str, str]] | None = None,
                        extra: Mapping[str, str] | None = None) -> SavedMapping:
        """Make the mapping a read used (``frame.attrs["header_map"]``), plus *extra*."""
        cols = {str(h): _GEOMETRY.get(c, c) for h, c in header_map.items()}
        cols.update(extra or {})
        return cls(layer, cols, {k: dict(v) for k, v in (vocab or {}).items()})

    def to_dict(self) -> dict[str, Any]:
        """Plain form (stored in the programme metadata)."""
        return {"layer": self.layer, "columns": dict(self.columns),
                "vocab": {k: dict(v) for k, v in self.vocab.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "the mapping") -> SavedMapping:
        """Read the plain form; refuse one without ``layer`` or ``columns``."""
        layer, cols = data.get("layer"), data.get("columns")
        if not isinstance(layer, str) or not isinstance(cols, Mapping):
            raise InputError(f"{where} is not a gisplan column mapping (needs layer = ... and "
                             "a [columns] table)", file=where,
                             hint="save one with --save-mapping FILE.toml")
        vocab = data.get("vocab") or {}
        bad = [k for k, v in cols.items() if not isinstance(v, str)]
        if not isinstance(vocab, Mapping) or bad or any(
                not isinstance(v, Mapping) for v in vocab.values()):
            raise InputError(f"{where}: each [columns] entry must be \"header\" = \"column\" "
                             "and each [vocab.column] entry \"value\" = \"term\"", file=where,
                             value=", ".join(map(str, bad)) or None,
                             hint="save the mapping again with --save-mapping, or fix the "
                             "entries by hand")
        return cls(layer, {str(k): str(v) for k, v in cols.items()},
                   {str(k): {str(a): str(b) for a, b in v.items()} for k, v in vocab.items()})

    def to_toml(self) -> str:
        """Return the mapping as a commented TOML file a planner can edit."""
        lines = ["# gisplan column mapping 表头对应: header as written = column",
                 "# saved with --save-mapping; reuse with --mapping THIS_FILE.toml",
                 f"layer = {_quote(self.layer)}", "", "[columns]"]
        lines += [f"{_quote(h)} = {_quote(c)}" for h, c in self.columns.items()]
        for column, table in self.vocab.items():
            lines += ["", f"[vocab.{_quote(column)}]"]
            lines += [f"{_quote(a)} = {_quote(b)}" for a, b in table.items()]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str, *, where: str = "the mapping") -> SavedMapping:
        """Parse :meth:`to_toml`'s text."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{where}: not a TOML file: {exc}", file=where,
                             hint="save the mapping again with --save-mapping") from exc
        return cls.from_dict(data, where=where)

    def save(self, path: str | Path) -> Path:
        """Write the TOML file; return its path."""
        path = Path(path)
        path.write_text(self.to_toml(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, *, layer: str | None = None) -> SavedMapping:
        """Read a saved mapping; refuse it when it was saved for another layer."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"--mapping {path}: file not found", file=str(path),
                             hint="save one first with --save-mapping FILE.toml")
        text = _decode(path.read_bytes(), file=str(path), option=f"--mapping {path}")
        mapping = cls.from_toml(text, where=str(path))
        if layer is not None and mapping.layer != layer:
            raise InputError(f"--mapping {path}: saved for layer '{mapping.layer}', "
                             f"not '{layer}'", file=str(path), value=mapping.layer,
                             hint=f"use --layer {mapping.layer}, or save a mapping for "
                             f"{layer} with --save-mapping")
        return mapping
