"""Blank Excel templates 填报模板 that a county office fills in and ``gisplan import`` reads.

One workbook per layer (``compounds`` 小区清单, ``facilities`` 设施, ``roads`` 道路,
``utilities`` 管线, ``districts`` 片区/街道, ``progress`` 进度报表):

* sheet 1, the list: row 1 a title saying how to fill it in; row 2 an example row
  (grey, italic); row 3 the Chinese headers of :mod:`gisplan.schema`, required ones bold
  red and marked （必填）; rows 4 onwards the data, one record per row. The example row
  sits *above* the header, so the reader takes it for a title line: it is never
  imported, and may be kept or deleted;
* every vocabulary column (facility type, road class, stage, ...) and every yes/no
  column has a drop-down list of its Chinese terms (Excel data validation); a column
  that takes several terms (改造类型 ``基础类;完善类``) warns instead of refusing;
* sheet 说明 explains each column: what it holds, its format and unit, whether it is
  required, the values it takes, and the command that imports the file;
* a hidden sheet 取值 holds the lists behind the drop-downs.

Headers are the schema's own Chinese names, so the file imports without a mapping.

Examples
--------
>>> from gisplan.templates import template_columns, write_template
>>> [c.header for c in template_columns("facilities")][:3]
['设施编号（必填）', '设施类型（必填）', '名称']
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = write_template("facilities", folder / "设施清单.xlsx")
>>> import openpyxl
>>> wb = openpyxl.load_workbook(path)
>>> wb.sheetnames
['设施清单', '说明', '取值']
>>> wb["设施清单"]["B3"].value, len(wb["设施清单"].data_validations.dataValidation)
('设施类型（必填）', 1)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from gisplan._errors import InputError
from gisplan.schema import Column, layer_schema, vocab

__all__ = [
    "EXAMPLE_ROW",
    "FIRST_DATA_ROW",
    "HEADER_ROW",
    "TEMPLATE_LAYERS",
    "TemplateColumn",
    "TemplateLayer",
    "template_columns",
    "write_template",
]

TemplateLayer = Literal["compounds", "facilities", "roads", "utilities", "districts", "progress"]
#: The layers a template can be written for (``progress`` is the progress log 进度台账).
TEMPLATE_LAYERS: tuple[str, ...] = get_args(TemplateLayer)

#: Sheet rows (1-based, as Excel shows them).
EXAMPLE_ROW, HEADER_ROW, FIRST_DATA_ROW = 2, 3, 4
#: Rows below the header that carry the drop-down lists.
DATA_ROWS = 2000

_SCHEMA_LAYER = {"progress": "progress_log"}
_SHEET = {"compounds": "小区清单", "facilities": "设施清单", "roads": "道路",
          "utilities": "管线", "districts": "片区街道", "progress": "进度报表"}
_IMPORT = {"progress": "gisplan progress import 项目.gpkg {file}"}
#: Columns the reader or the store fills, never the office.
_NOT_FILLED = {"flags", "log_id", "source_file", "source_row", "entered_at", "row_hash"}
_REQUIRED_MARK = "（必填）"

_POLYGON = ("POLYGON ((106.2700 36.0000, 106.2720 36.0000, 106.2720 36.0015, "
            "106.2700 36.0015, 106.2700 36.0000))")
_LINE = "LINESTRING (106.2700 36.0000, 106.2750 36.0000, 106.2800 36.0010)"

#: The example row of each template, by canonical column.
_EXAMPLES: dict[str, dict[str, Any]] = {
    "compounds": {"compound_id": "C001", "name": "东关小区", "county": "原州区",
                  "street": "南关街道", "community": "东关社区", "district": "南城路片区",
                  "built_year": 1998, "households": 120, "buildings": 4,
                  "floor_area_m2": 8600, "categories": "基础类;完善类",
                  "prior_central_funding": "否", "status": "纳入计划",
                  "planned_items": "供水、排水、外墙、绿化", "__wkt__": _POLYGON},
    "districts": {"district_id": "D01", "name": "南城路片区", "level": "片区",
                  "county": "原州区", "__wkt__": _POLYGON},
    "utilities": {"utility_id": "U001", "network": "供水", "owner": "市自来水公司",
                  "install_year": 1995, "material": "铸铁", "diameter_mm": 200,
                  "__wkt__": _LINE},
    "facilities": {"facility_id": "F001", "facility_type": "幼儿园", "name": "东关幼儿园",
                   "capacity": 180, "__lon__": 106.2781, "__lat__": 36.0012},
    "roads": {"road_id": "R001", "name": "南城路", "road_class": "主干路", "walkable": "是",
              "__wkt__": _LINE},
    "progress": {"compound_id": "C001", "compound_name": "东关小区", "county": "原州区",
                 "date": dt.date(2024, 5, 20), "stage": "开工", "consent_rate": "86%",
                 "structures_removed": "是", "design_posted": "是", "contract_signed": "是",
                 "crew_on_site": "是", "note": "", "households": 120},
}

#: What each column holds, in English and Chinese (columns not listed get their format only).
_NOTES: dict[str, str] = {
    "compound_id": "Compound id, unique in the programme. 小区编号，项目内唯一，如 C001",
    "district_id": "District id, unique. 片区/街道编号，唯一",
    "utility_id": "Line id, unique. 管线编号，唯一",
    "facility_id": "Facility id, unique. 设施编号，唯一",
    "road_id": "Road id, unique. 道路编号，唯一",
    "name": "Name as in the plan. 名称，与计划一致",
    "compound_name": "Compound name as in the plan; matched when 小区编号 is empty. "
                     "小区名称，小区编号为空时按名称匹配",
    "county": "County/district 县（市、区）, as the programme spells it. 与项目设置中的写法一致",
    "street": "Sub-district 街道（镇）; bundling may use it as the level. 可作连片打包层级",
    "community": "Community 社区居委会",
    "district": "Renovation area 改造片区; bundles stay inside one. 连片打包不跨片区",
    "built_year": "Year the compound was built; decides eligibility (2000年底前建成). "
                  "建成年份，决定是否符合改造条件",
    "households": "Households 居民户数; '1,435户' is read as 1435",
    "buildings": "Residential buildings 住宅楼栋数",
    "floor_area_m2": "Residential floor area 住宅建筑面积; '6.4万平方米' is read as 64000",
    "categories": "Renovation categories 改造类型; several separated by ; 多个用；分隔",
    "prior_central_funding": "Already received central renovation funds 曾获中央补助 "
                             "(excluded by the rules 不得重复申报)",
    "status": "Plan status 计划状态; 拟拆除重建 and 不纳入 are excluded from the plan",
    "planned_items": "Renovation items 改造内容, e.g. 供水、排水、外墙; separated by 、",
    "level": "Level of the area 层级: 片区, 街道 or 县区",
    "network": "Utility network 管线类型",
    "owner": "Owner / operator 权属单位 (the unit to coordinate with 需协调的单位)",
    "install_year": "Year laid 敷设年份",
    "material": "Pipe material 材质, e.g. 铸铁, PE",
    "diameter_mm": "Diameter 管径 in millimetres; write DN200 as 200 写数字",
    "facility_type": "Facility type 设施类型 (15-minute life circle 完整居住社区 standard)",
    "capacity": "Size 规模: places, beds or m² as the facility counts it 学位/床位/面积",
    "road_class": "Road class 道路等级; 主干路 are barriers that bundles do not cross "
                  "主干路为连片打包的分隔",
    "walkable": "Pedestrians may walk along it 可步行",
    "date": "Date of the report 填报日期",
    "stage": "Stage reached 形象进度",
    "consent_rate": "Residents' consent 居民同意率: 0.86 or 86%",
    "structures_removed": "Illegal and temporary structures removed 违建已拆除",
    "design_posted": "Design posted in the compound 设计已在小区公示",
    "contract_signed": "Construction contract signed 已签施工合同",
    "crew_on_site": "Crew on site with visible progress 施工队伍进场",
    "note": "Remarks 备注 (kept as written)",
    "__wkt__": "Outline as WKT text 几何（WKT）, longitude/latitude degrees: WGS84, or "
               "GCJ-02 from 高德/腾讯 maps (import with --coords gcj02)",
    "__lon__": "Longitude 经度, decimal degrees, e.g. 106.2781 (高德/腾讯 picks: --coords gcj02)",
    "__lat__": "Latitude 纬度, decimal degrees, e.g. 36.0012",
}

_UNITS: dict[str, str] = {
    "households": "户", "buildings": "栋", "floor_area_m2": "平方米 m²",
    "built_year": "年 (4 digits)", "install_year": "年 (4 digits)", "diameter_mm": "毫米 mm",
    "consent_rate": "0–1 or %", "__lon__": "度 degrees", "__lat__": "度 degrees",
}

_FORMATS: dict[str, str] = {
    "str": "文字 text", "int": "整数 whole number", "float": "数字 number",
    "bool": "是/否 yes/no", "date": "日期 date 2024-06-30", "datetime": "日期时间 date-time",
}


@dataclass(frozen=True)
class TemplateColumn:
    """One column of a template.

    Attributes
    ----------
    header : str
        The header as written in the template (the schema's Chinese name, ``（必填）``
        added when required).
    name : str
        Canonical column (``households``), or ``__wkt__`` / ``__lon__`` / ``__lat__``.
    required : bool
        The import refuses a file without this column, or the layer needs it.
    format, unit, note : str
        What a planner reads in the notes sheet 说明.
    choices : tuple of str
        Chinese terms of the drop-down list (empty: no list).
    strict : bool
        Excel refuses a value not in the list (False: it warns, for columns that take
        several terms or names not known in advance).
    example : Any
        The value in the example row.
    """

    header: str
    name: str
    required: bool
    format: str
    unit: str
    note: str
    choices: tuple[str, ...] = ()
    strict: bool = True
    example: Any = None


def _check_layer(layer: str) -> str:
    if layer not in TEMPLATE_LAYERS:
        raise InputError(f"no template for '{layer}'", value=layer,
                         hint=f"use one of: {', '.join(TEMPLATE_LAYERS)}")
    return _SCHEMA_LAYER.get(layer, layer)


def _choices(schema_layer: str, col: Column,
             counties: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """Return the drop-down terms of a column and whether the list is strict."""
    from gisplan.read import VOCAB_COLUMNS

    if (schema_layer, col.name) in VOCAB_COLUMNS:
        return tuple(t.zh for t in vocab(VOCAB_COLUMNS[(schema_layer, col.name)]).values()), True
    if col.name == "categories":
        return tuple(t.zh for t in vocab("category").values()), False
    if col.dtype == "bool":
        return ("是", "否"), True
    if col.name == "county" and counties:
        return tuple(counties), False
    return (), True


def _geometry_columns(layer: str) -> list[TemplateColumn]:
    ex = _EXAMPLES[layer]
    if layer == "facilities":
        return [TemplateColumn("经度" + _REQUIRED_MARK, "__lon__", True, _FORMATS["float"],
                               _UNITS["__lon__"], _NOTES["__lon__"], example=ex["__lon__"]),
                TemplateColumn("纬度" + _REQUIRED_MARK, "__lat__", True, _FORMATS["float"],
                               _UNITS["__lat__"], _NOTES["__lat__"], example=ex["__lat__"])]
    if layer == "progress":
        return []
    shape = "面 polygon" if layer in ("compounds", "districts") else "线 line"
    return [TemplateColumn("几何（WKT）" + _REQUIRED_MARK, "__wkt__", True,
                           f"WKT 文字 text ({shape})", "度 degrees", _NOTES["__wkt__"],
                           example=ex["__wkt__"])]


def template_columns(layer: TemplateLayer | str, *,
                     counties: Sequence[str] = ()) -> list[TemplateColumn]:
    """Return the columns of the template for *layer*, in sheet order.

    Parameters
    ----------
    layer : {"compounds", "facilities", "roads", "utilities", "districts", "progress"}
        The layer the template is for.
    counties : sequence of str, optional
        The programme's counties: a drop-down list for the 县区 column (a warning, not a
        refusal, for another name). Empty: no list.

    Returns
    -------
    list of TemplateColumn
        The schema's columns a source fills (not ``flags`` nor the columns the store
        fills), then the geometry columns (WKT, or 经度/纬度 for facilities).

    Examples
    --------
    >>> cols = template_columns("roads")
    >>> [(c.header, c.choices) for c in cols if c.choices]
    [('道路等级', ('主干路', '次干路', '支路', '步行道')), ('可步行', ('是', '否'))]
    """
    schema_layer = _check_layer(layer)
    sch = layer_schema(schema_layer)
    examples = _EXAMPLES[layer]
    out = []
    for col in sch.columns:
        if col.name in _NOT_FILLED:
            continue
        choices, strict = _choices(schema_layer, col, counties)
        fmt = _FORMATS[col.dtype] + ("; 多选 several, 用；分隔" if not strict and choices
                                     and col.name != "county" else "")
        out.append(TemplateColumn(
            header=col.zh + (_REQUIRED_MARK if col.required else ""), name=col.name,
            required=col.required, format=fmt, unit=_UNITS.get(col.name, ""),
            note=_NOTES.get(col.name, ""), choices=choices, strict=strict,
            example=examples.get(col.name)))
    return out + _geometry_columns(layer)


# ================================================================= writing


def _styles() -> dict[str, Any]:
    from openpyxl.styles import Alignment, Font, PatternFill

    return {
        "required": (Font(bold=True, color="C00000"), PatternFill("solid", fgColor="FFF2CC")),
        "optional": (Font(bold=True), PatternFill("solid", fgColor="E7E6E6")),
        "example": Font(italic=True, color="808080"),
        "title": Font(bold=True, size=12),
        "wrap": Alignment(wrap_text=True, vertical="top"),
    }


def _title(layer: str) -> str:
    sch = layer_schema(_check_layer(layer))
    return (f"{sch.zh}{'报表' if layer == 'progress' else '清单'} {layer} — "
            f"第{EXAMPLE_ROW}行为示例（灰色，不导入，可保留或删除）；第{HEADER_ROW}行为表头，"
            f"红色“（必填）”列必须填写；从第{FIRST_DATA_ROW}行起每行填写一条。见“说明”页。 "
            f"Row {EXAMPLE_ROW} is an example (not imported); fill in from row "
            f"{FIRST_DATA_ROW}, one record per row; required columns are red.")


def _write_data_sheet(ws: Any, layer: str, columns: Sequence[TemplateColumn]) -> None:
    from openpyxl.utils import get_column_letter

    from gisplan.cells import xlsx_string_cell

    st = _styles()
    ws.cell(1, 1, _title(layer)).font = st["title"]
    ws.cell(1, 1).alignment = st["wrap"]
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(len(columns), 1))
    ws.row_dimensions[1].height = 48
    for j, col in enumerate(columns, start=1):
        head = ws.cell(HEADER_ROW, j)
        xlsx_string_cell(head, col.header)
        head.font, head.fill = st["required" if col.required else "optional"]
        if col.example is not None and col.example != "":
            ex = ws.cell(EXAMPLE_ROW, j)
            if isinstance(col.example, str):
                xlsx_string_cell(ex, col.example)
            else:
                ex.value = col.example
            ex.font = st["example"]
            if isinstance(col.example, dt.date):
                ex.number_format = "yyyy-mm-dd"
        letter = get_column_letter(j)
        width = max(10, 2 * len(col.header) + 2) if col.name != "__wkt__" else 40
        ws.column_dimensions[letter].width = width
        if col.name == "date":
            for r in range(FIRST_DATA_ROW, FIRST_DATA_ROW + 200):
                ws.cell(r, j).number_format = "yyyy-mm-dd"
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 1)


def _write_validations(ws: Any, lists: Any, columns: Sequence[TemplateColumn]) -> None:
    """Add a drop-down (data validation) for every column with choices."""
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    from gisplan.cells import xlsx_string_cell

    k = 0
    for j, col in enumerate(columns, start=1):
        if not col.choices:
            continue
        k += 1
        lk = get_column_letter(k)
        xlsx_string_cell(lists.cell(1, k), f"取值 list: {col.name}")
        for i, term in enumerate(col.choices, start=2):
            xlsx_string_cell(lists.cell(i, k), term)
        source = f"{quote_sheetname(lists.title)}!${lk}$2:${lk}${len(col.choices) + 1}"
        dv = DataValidation(
            type="list", formula1=source, allow_blank=True, showErrorMessage=True,
            errorStyle="stop" if col.strict else "warning",
            errorTitle="不在列表中 not in the list",
            error=("请从下拉列表中选择 choose a value from the list: "
                   + "、".join(col.choices))[:255],
            showInputMessage=True, promptTitle=col.header[:32],
            prompt=((col.note or col.format)
                    + (" 可多选，用；分隔" if not col.strict else ""))[:255],
        )
        letter = get_column_letter(j)
        dv.add(f"{letter}{FIRST_DATA_ROW}:{letter}{FIRST_DATA_ROW + DATA_ROWS - 1}")
        ws.add_data_validation(dv)


def _write_notes(ws: Any, layer: str, columns: Sequence[TemplateColumn], file: str) -> None:
    from gisplan.cells import xlsx_string_cell

    st = _styles()
    command = _IMPORT.get(layer, "gisplan import 项目.gpkg {file} --layer " + layer)
    intro = [
        f"{layer_schema(_check_layer(layer)).zh} {layer} — 填写说明 notes",
        f"1. 从第{FIRST_DATA_ROW}行起每行填写一条记录；"
        f"第{EXAMPLE_ROW}行的示例不会导入，可保留或删除。"
        f" Fill in from row {FIRST_DATA_ROW}; the example in row {EXAMPLE_ROW} is not imported.",
        "2. 表头请勿修改；可在右侧增加其他列（如 序号、备注），导入时原样保留。"
        " Keep the headers; extra columns you add are kept as they are.",
        "3. 带“（必填）”的列必须填写；有下拉列表的列请从列表中选择。"
        " Columns marked （必填） are required; choose from the drop-down lists.",
        "4. 数字可带单位（如 1,435户、6.4万平方米、1998年），导入时自动识别。"
        " Numbers may carry units; they are read.",
        "5. 导入 import: " + command.format(file=file),
    ]
    for i, line in enumerate(intro, start=1):
        xlsx_string_cell(ws.cell(i, 1), line)
    ws.cell(1, 1).font = st["title"]
    top = len(intro) + 2
    heads = ["列 column", "字段 field", "必填 required", "格式 format", "单位 unit",
             "说明 notes", "可选值 values", "示例 example"]
    for j, h in enumerate(heads, start=1):
        xlsx_string_cell(ws.cell(top, j), h)
        ws.cell(top, j).font, ws.cell(top, j).fill = st["optional"]
    for i, col in enumerate(columns, start=top + 1):
        values = [col.header, col.name.strip("_"), "是 yes" if col.required else "否 no",
                  col.format, col.unit, col.note, "、".join(col.choices),
                  "" if col.example is None else str(col.example)]
        for j, v in enumerate(values, start=1):
            xlsx_string_cell(ws.cell(i, j), v)
            ws.cell(i, j).alignment = st["wrap"]
    for letter, width in zip("ABCDEFGH", (22, 18, 12, 22, 14, 60, 40, 30), strict=True):
        ws.column_dimensions[letter].width = width


def write_template(layer: TemplateLayer | str, path: str | os.PathLike[str], *,
                   counties: Sequence[str] = (), overwrite: bool = False) -> Path:
    """Write the blank Excel template for *layer* to *path*.

    Parameters
    ----------
    layer : {"compounds", "facilities", "roads", "utilities", "districts", "progress"}
        The layer the template is for.
    path : str or os.PathLike
        The ``.xlsx`` file to write.
    counties : sequence of str, optional
        The programme's counties, offered as a drop-down list in the 县区 column.
    overwrite : bool, default False
        Replace an existing file (by default an existing file, perhaps already filled
        in, is an error).

    Returns
    -------
    pathlib.Path
        *path*.

    Raises
    ------
    InputError
        If *path* exists (and *overwrite* is false), is not ``.xlsx``, or its folder is
        missing.
    """
    import openpyxl

    path = Path(path)
    columns = template_columns(layer, counties=counties)
    if path.suffix.lower() != ".xlsx":
        raise InputError("a template is an Excel .xlsx file", file=str(path),
                         hint=f"name it e.g. {path.with_suffix('.xlsx').name}")
    if path.exists() and not overwrite:
        raise InputError("file exists (it may be filled in already); not overwritten",
                         file=str(path), hint="choose another name, or pass --force")
    if not path.parent.is_dir():
        raise InputError(f"folder {path.parent} does not exist", file=str(path),
                         hint="create the folder first")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = _SHEET[layer]
    notes = wb.create_sheet("说明")
    lists = wb.create_sheet("取值")
    _write_data_sheet(ws, layer, columns)
    _write_validations(ws, lists, columns)
    _write_notes(notes, layer, columns, path.name)
    lists.sheet_state = "hidden"
    wb.active = 0
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    os.replace(tmp, path)
    return path
