r"""The programme file 项目设置文件: what a planner sets without Python, checked key by key.

A programme (城镇老旧小区改造计划) is described by a TOML file that a planner edits in
any text editor: its name, city and counties, the plan year, the milestones of the plan
document, the start criteria, the budget and its funding sources, the rule set that
decides which compounds may enter the plan, and the bundling defaults.
``gisplan init --template programme.toml`` writes a commented example
(``gisplan/data/programme_template.toml``).

The file is checked before anything is written. Every problem names the line and key,
the bad value and the fix; a key with a typo gets the closest known key. The checked
file becomes programme metadata (DESIGN.md, "Programme metadata") through
:func:`programme_meta`; :func:`programme_doc` turns metadata back into the file's form.

Examples
--------
>>> from gisplan.programme import loads_programme
>>> prog = loads_programme('''
... [programme]
... name = "示例市2024年城镇老旧小区改造"
... city = "示例市"
... year = 2024
... [[milestones]]
... key = "all_started"
... zh = "6月底前全部开工"
... date = 2024-06-30
... measure = "started_compounds"
... target = "100%"
... ''')
>>> prog.meta["milestones"][0]["target"], prog.meta["milestones"][0]["date"]
(1.0, '2024-06-30')
>>> loads_programme('[programme]\nname = "x"\nyaer = 2024\n', partial=True)
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
gisplan.programme.ProgrammeError: 1 problem in the programme settings ...:
  line 3, key 'programme.yaer': unknown key (value: 2024). Fix: did you mean 'year'?
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import json
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from gisplan._errors import InputError
from gisplan.findings import Finding, Report

__all__ = [
    "FUNDING_SOURCES",
    "Problem",
    "Programme",
    "ProgrammeError",
    "apply_settings",
    "check_update",
    "default_rule_set",
    "dumps_programme",
    "format_programme",
    "loads_programme",
    "programme_doc",
    "programme_meta",
    "read_programme",
    "rule_sets",
    "settable_keys",
    "template_text",
]

#: Funding sources 资金来源 a budget line may name (key → Chinese name).
FUNDING_SOURCES: dict[str, str] = {
    "central": "中央财政补助资金",
    "central_regional": "中央、省（自治区）财政补助资金",
    "provincial": "省级财政补助资金",
    "local": "地方配套资金",
    "special_bonds": "地方政府专项债券",
    "bank_loans": "银行贷款",
    "utilities": "专营单位（水电气热信）出资",
    "social_capital": "社会资本",
    "residents": "居民出资",
    "other": "其他",
}

#: Similarity (rapidfuzz ratio, 0–100) above which a misspelt key or name gets a suggestion.
SUGGEST_SCORE = 60.0


# ================================================================= problems


@dataclass(frozen=True)
class Problem:
    """One problem in a programme file: where (key path, line), what, and the fix.

    ``path`` is the key's path in the file, e.g. ``("milestones", 1, "target")`` for
    the ``target`` of the second ``[[milestones]]`` entry.
    """

    path: tuple[str | int, ...]
    message: str
    value: Any = None
    hint: str | None = None
    line: int | None = None
    where: str | None = None  # how the user gave the key, when not in a file (``--set``)

    def key(self) -> str:
        """Return the dotted key, array entries numbered from 1 (``milestones[2].target``)."""
        out = ""
        for part in self.path:
            out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def __str__(self) -> str:
        place = [f"line {self.line}"] if self.line else []
        if self.where:
            place.append(self.where)
        elif self.path:
            place.append(f"key '{self.key()}'")
        text = (", ".join(place) + ": " if place else "") + self.message
        if self.value is not None:
            text += f" (value: {_show_value(self.value)})"
        if self.hint:
            text += f". Fix: {self.hint}"
        return text


def _show_value(value: Any) -> str:
    if isinstance(value, str | dt.date):
        return repr(str(value))
    return repr(value)


class ProgrammeError(InputError):
    """A programme file, or a ``--set`` value, that cannot be used; nothing was written.

    Attributes
    ----------
    problems : list of Problem
        Every problem found, in file order.
    """

    def __init__(self, problems: Sequence[Problem], *, file: str | None = None) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0))
        first = self.problems[0] if self.problems else Problem((), "no problem")
        super().__init__(first.message, file=file, column=first.key() or None,
                         value=first.value, hint=first.hint)

    def __str__(self) -> str:
        n = len(self.problems)
        head = (f"{self.file}: " if self.file else "") + (
            f"{n} problem{'s' if n != 1 else ''} in the programme settings 项目设置有误, "
            "nothing written 未写入:")
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


class _ValError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# ================================================================= value checks


def _closest(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice most like *word* when it is similar enough, else None."""
    from rapidfuzz import fuzz, process

    hit = process.extractOne(str(word).lower(), list(choices), scorer=fuzz.ratio,
                             score_cutoff=SUGGEST_SCORE)
    return str(hit[0]) if hit else None


def _suggest(word: str, choices: Sequence[str]) -> str:
    near = _closest(word, choices)
    listed = ", ".join(choices)
    return f"did you mean '{near}'?" if near else f"use one of: {listed}"


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _ValError("must be text in quotes", 'write it as key = "…"')
    return v.strip()


def _text_list(v: Any) -> list[str]:
    items = re.split(r"[,，、;；\s]+", v) if isinstance(v, str) else v
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise _ValError("must be a list of names", 'write counties = ["魏都区", "建安区"]')
    out = [i.strip() for i in items if i.strip()]
    dupes = sorted({i for i in out if out.count(i) > 1})
    if dupes:
        raise _ValError(f"{'、'.join(dupes)} listed twice", "list each name once")
    return out


def _year(v: Any) -> int:
    if isinstance(v, str) and re.fullmatch(r"\s*\d{4}\s*年?\s*", v):
        v = int(v.strip().rstrip("年"))
    if isinstance(v, bool) or not isinstance(v, int) or not 1990 <= v <= 2100:
        raise _ValError("is not a plan year", "write the year as four digits, e.g. year = 2024")
    return v


_DATE = re.compile(r"^\s*(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?\s*$")


def _date(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    m = _DATE.match(str(v)) if isinstance(v, str) else None
    if m is None:
        raise _ValError("is not a date", "write a date as 2024-06-30")
    y, mo, d = (int(g) for g in m.groups())
    if not 1 <= mo <= 12:
        raise _ValError(f"month {mo} does not exist", "write a date as 2024-06-30")
    last = calendar.monthrange(y, mo)[1]
    if not 1 <= d <= last:
        raise _ValError(f"{y}-{mo:02d}-{d:02d} does not exist: {calendar.month_name[mo]} {y} "
                        f"has {last} days",
                        f"write a day that exists, e.g. {y}-{mo:02d}-{last:02d}")
    return dt.date(y, mo, d).isoformat()


def _number(v: Any, *, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        raise _ValError(f"must be a number ({what})", f"write a plain number, e.g. {what} = 1200")
    return float(v)


def _count(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _ValError("must be a whole number ≥ 0",
                             "write a whole number without units, e.g. 26")
    return v


def _households(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _ValError("must be a whole number of households ≥ 1", "write e.g. 300")
    return v


def _amount(v: Any) -> float:
    x = _number(v, what="amount in 万元")
    if x < 0:
        raise _ValError("must not be negative",
                             "write the amount in 万元 (10,000 yuan), e.g. 9381.27")
    return x


def _metres(v: Any) -> float:
    x = _number(v, what="metres")
    if x < 0:
        raise _ValError("must not be negative", "write a distance in metres ≥ 0, e.g. 20")
    return x


def _positive_metres(v: Any) -> float:
    x = _metres(v)
    if x == 0:
        raise _ValError("must be more than 0 m", "write a distance in metres, e.g. 1000")
    return x


def _share(v: Any) -> float:
    if isinstance(v, str) and re.fullmatch(r"\s*[\d.]+\s*[%％]\s*", v):
        with contextlib.suppress(ValueError):
            v = float(v.strip().rstrip("%％")) / 100
    x = _number(v, what="share")
    if x > 1:
        hint = (f"write a share between 0 and 1: {x / 100:g} for {x:g} %" if x <= 100
                else "write a share between 0 and 1, e.g. 0.7 for 70 %")
        raise _ValError("is above 100 %", hint)
    if x < 0:
        raise _ValError("is below 0 %", "write a share between 0 and 1, e.g. 0.7 for 70 %")
    return x


def _ident(v: Any) -> str:
    if not isinstance(v, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", v):
        raise _ValError("must be a short name in lower-case letters, digits and _",
                   'write e.g. key = "all_started"')
    return v


@cache
def _rules_toml() -> dict[str, Any]:
    text = resources.files("gisplan.data").joinpath("rules.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def rule_sets() -> dict[str, str]:
    """Return the rule sets of ``gisplan/data/rules.toml``: name → title.

    Examples
    --------
    >>> "guyuan_2022" in rule_sets()
    True
    """
    return {str(k): str(v.get("title", k)) for k, v in _rules_toml()["rulesets"].items()}


def default_rule_set() -> str:
    """Return the rule set used when a programme names none (``default`` in rules.toml)."""
    return str(_rules_toml().get("default") or next(iter(rule_sets())))


def _rule_set(v: Any) -> str:
    known = list(rule_sets())
    if not isinstance(v, str) or v not in known:
        near = _closest(str(v), known)
        raise _ValError("is not a rule set of gisplan/data/rules.toml",
                        (f"did you mean '{near}'? " if near else "")
                        + f"rule sets: {', '.join(known)}")
    return v


def _vocab_key(vocab_name: str, v: Any, *, what: str) -> str:
    from gisplan.schema import term, vocab

    key = term(vocab_name, v) if isinstance(v, str) else None
    if key is None:
        terms = vocab(vocab_name)
        choices = [f"{k} ({t.zh})" for k, t in terms.items()]
        near = _closest(str(v), list(terms) + [t.zh for t in terms.values()])
        hint = f"did you mean '{near}'?" if near else f"use one of: {', '.join(choices)}"
        raise _ValError(f"is not a {what}", hint)
    return key


def _level(v: Any) -> str:
    return _vocab_key("district_level", v, what="district level 层级 (pianqu/street/county)")


_MEASURE = re.compile(r"^([a-z_]+)_(compounds|households)$")


def _measure(v: Any) -> str:
    from gisplan.schema import vocab

    stages = list(vocab("stage"))
    m = _MEASURE.match(v) if isinstance(v, str) else None
    if m is None or m.group(1) not in stages:
        choices = [f"{s}_{u}" for s in stages for u in ("compounds", "households")]
        raise _ValError("is not a measure: write <stage>_compounds (share of compounds) or "
                   "<stage>_households (share of households)", _suggest(str(v), choices))
    return str(v)


def _categories(v: Any) -> str:
    parts = re.split(r"[;；,，、\s]+", v) if isinstance(v, str) else v
    if not isinstance(parts, list):
        raise _ValError("must name renovation categories", 'write categories = "basic"')
    return ";".join(_vocab_key("category", p, what="renovation category 改造类型")
                    for p in parts if str(p).strip())


def _criteria() -> dict[str, str]:
    from gisplan.progress import START_CRITERIA
    from gisplan.schema import layer_schema

    sch = layer_schema("progress_log")
    return {c: sch.column(c).zh for c in START_CRITERIA}


def _criterion(v: Any) -> str:
    known = _criteria()
    by_zh = {zh: k for k, zh in known.items()}
    if isinstance(v, str) and (v in known or v in by_zh):
        return by_zh.get(v, v)
    raise _ValError("is not a start criterion 开工条件",
               _suggest(str(v), list(known)) + " ("
               + ", ".join(f"{k} {zh}" for k, zh in known.items()) + ")")


def _funding_source(v: Any) -> str:
    by_zh = {zh: k for k, zh in FUNDING_SOURCES.items()}
    if isinstance(v, str) and (v in FUNDING_SOURCES or v in by_zh):
        return by_zh.get(v, v)
    raise _ValError("is not a funding source 资金来源",
               _suggest(str(v), list(FUNDING_SOURCES)) + "; put the name as written in the "
               'plan in zh = "…" (use "other" when none fits)')


# ================================================================= the file's keys


@dataclass(frozen=True)
class Key:
    """One key of the programme file: its Chinese name, check, and what it holds."""

    zh: str
    check: Callable[[Any], Any] | None = None
    required: bool = False
    table: Mapping[str, Key] | None = None  # a [table]
    items: Mapping[str, Key] | None = None  # an array of [[tables]]
    option: str | None = None  # the `gisplan init` option that may give it


PROGRAMME_KEYS: dict[str, Key] = {
    "name": Key("项目名称", _text, required=True, option="--name"),
    "name_en": Key("英文名称", _text),
    "city": Key("城市", _text, required=True, option="--city"),
    "province": Key("省份", _text),
    "counties": Key("县区", _text_list),
    "year": Key("计划年度", _year, required=True, option="--year"),
    "start_date": Key("进度起算日期", _date),
    "rule_set": Key("改造条件规则集", _rule_set),
}

SPEC: dict[str, Key] = {
    "programme": Key("项目", table=PROGRAMME_KEYS),
    "targets": Key("计划指标", table={
        "compounds": Key("小区数", _count), "households": Key("户数", _count),
        "buildings": Key("楼栋数", _count), "floor_area_m2": Key("住宅建筑面积（平方米）", _amount),
    }),
    "budget": Key("资金", table={
        "total_wan_yuan": Key("总投资（万元）", _amount),
        "note": Key("出处", _text),
        "funding": Key("资金来源", items={
            "source": Key("来源", _funding_source, required=True),
            "zh": Key("名称", _text),
            "amount_wan_yuan": Key("金额（万元）", _amount, required=True),
        }),
    }),
    "milestones": Key("里程碑", items={
        "key": Key("代号", _ident, required=True),
        "zh": Key("名称", _text, required=True),
        "date": Key("日期", _date, required=True),
        "measure": Key("指标", _measure, required=True),
        "target": Key("目标比例", _share, required=True),
        "categories": Key("改造类型", _categories),
        "source": Key("出处", _text),
    }),
    "start_criteria": Key("开工条件", items={
        "key": Key("条件", _criterion, required=True),
        "zh": Key("名称", _text),
        "min": Key("最低值", _share),
        "source": Key("出处", _text),
    }),
    "bundling": Key("连片打包", table={
        "level": Key("层级", _level),
        "min_households": Key("最少户数", _households),
        "max_households": Key("最多户数", _households),
        "gap_m": Key("相邻间距（米）", _metres),
        "max_span_m": Key("最大跨度（米）", _positive_metres),
    }),
}


def settable_keys() -> list[str]:
    """Return the keys ``gisplan programme set --set KEY=VALUE`` accepts.

    Keys of ``[programme]`` are written bare (``year``), others dotted
    (``bundling.level``); a milestone field is ``milestones.<key>.<field>``.

    Examples
    --------
    >>> settable_keys()[:3]
    ['name', 'name_en', 'city']
    """
    out = list(PROGRAMME_KEYS)
    for name, k in SPEC.items():
        if k.table is not None and name != "programme":
            out += [f"{name}.{sub}" for sub, kk in k.table.items() if kk.check is not None]
    return out


# ================================================================= checking


@dataclass
class Programme:
    """A checked programme file.

    Attributes
    ----------
    doc : dict
        The file's content, checked and normalised (dates as ``YYYY-MM-DD`` text,
        shares as fractions, Chinese terms as keys).
    meta : dict
        The same as programme metadata for :meth:`gisplan.store.Project.set_meta`.
    report : Report
        Warnings that do not stop (``budget_parts_differ``, ``milestone_year``).
    """

    doc: dict[str, Any]
    meta: dict[str, Any]
    report: Report = field(default_factory=Report)


def _walk(data: Mapping[str, Any], spec: Mapping[str, Key], path: tuple[str | int, ...],
          problems: list[Problem], *, partial: bool) -> dict[str, Any]:
    """Check the keys of one table against *spec*; return the normalised table."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        p = (*path, key)
        if key not in spec:
            problems.append(_unknown(p, value, spec))
            continue
        k = spec[key]
        if k.table is not None:
            if isinstance(value, dict):
                out[key] = _walk(value, k.table, p, problems, partial=partial)
            else:
                problems.append(Problem(p, f"must be a table [{'.'.join(map(str, p))}]", value,
                                        f"write [{'.'.join(map(str, p))}] on its own line, "
                                        "its keys below it"))
        elif k.items is not None:
            if isinstance(value, list) and all(isinstance(v, dict) for v in value):
                out[key] = [_walk(item, k.items, (*p, i), problems, partial=False)
                            for i, item in enumerate(value)]
            else:
                problems.append(Problem(p, "must be a list of entries", value,
                                        f"write each entry as [[{'.'.join(map(str, p))}]] "
                                        "followed by its keys"))
        else:
            assert k.check is not None
            try:
                out[key] = k.check(value)
            except _ValError as bad:
                problems.append(Problem(p, bad.message, value, bad.hint))
    if not partial:
        for key, k in spec.items():
            if k.required and key not in data:
                add = f"add {key} = … ({k.zh}) to [{'.'.join(map(str, path))}]" if path \
                    else f"add [{key}]"
                if k.option:
                    add = f"pass {k.option} or {add}"
                problems.append(Problem((*path, key), f"{k.zh} {key} is missing", hint=add))
    return out


def _unknown(path: tuple[str | int, ...], value: Any, spec: Mapping[str, Key]) -> Problem:
    key = str(path[-1])
    if len(path) == 1 and key in PROGRAMME_KEYS:
        return Problem(path, "belongs under [programme]", value,
                       f"move {key} = … below the line [programme]")
    near = _closest(key, spec)
    hint = (f"did you mean '{near}'?" if near
            else f"keys allowed here: {', '.join(spec)}")
    return Problem(path, "unknown key", None if isinstance(value, dict | list) else value, hint)


def _cross_check(doc: Mapping[str, Any]) -> tuple[list[Problem], list[Finding]]:
    """Check what one key cannot say alone: min ≤ max, unique keys, dates in order."""
    problems: list[Problem] = []
    warnings: list[Finding] = []
    bun = doc.get("bundling", {})
    lo, hi = bun.get("min_households"), bun.get("max_households")
    if lo is not None and hi is not None and lo > hi:
        problems.append(Problem(("bundling", "min_households"),
                                f"is above max_households = {hi}", lo,
                                "make min_households ≤ max_households"))
    for name in ("milestones", "start_criteria"):
        seen: dict[str, int] = {}
        for i, item in enumerate(doc.get(name, [])):
            if item.get("key") in seen:
                problems.append(Problem((name, i, "key"),
                                        f"is used by entry {seen[item['key']] + 1} too",
                                        item["key"], "give each entry its own key"))
            seen.setdefault(item.get("key"), i)
    for i, item in enumerate(doc.get("start_criteria", [])):
        if "min" in item and item.get("key") != "consent_rate":
            problems.append(Problem(("start_criteria", i, "min"),
                                    "only consent_rate (居民同意率) takes a minimum",
                                    item["min"], "remove min = … from this criterion"))
    problems += _check_dates(doc, warnings)
    warnings += _check_budget(doc.get("budget", {}))
    return problems, warnings


def _check_dates(doc: Mapping[str, Any], warnings: list[Finding]) -> list[Problem]:
    problems: list[Problem] = []
    dates = [(i, m["date"]) for i, m in enumerate(doc.get("milestones", [])) if "date" in m]
    start = doc.get("programme", {}).get("start_date")
    if start and dates:
        i, first = min(dates, key=lambda d: d[1])
        if start > first:
            problems.append(Problem(("programme", "start_date"),
                                    f"is after the first milestone's date {first}", start,
                                    "the pace of progress starts at start_date: make it "
                                    "on or before every milestone, or remove it"))
    year = doc.get("programme", {}).get("year")
    for i, day in dates:
        if year and not year - 1 <= int(day[:4]) <= year + 2:
            warnings.append(Finding(
                "warning", "milestone_year",
                f"milestone {i + 1} is dated {day}, far from the plan year {year}",
                column=f"milestones[{i + 1}].date", value=day,
                hint="check the year of the date"))
    return problems


def _check_budget(budget: Mapping[str, Any]) -> list[Finding]:
    total = budget.get("total_wan_yuan")
    parts = [f.get("amount_wan_yuan", 0.0) for f in budget.get("funding", [])]
    if total is None or not parts or abs(sum(parts) - total) <= 0.005 * max(total, 1.0):
        return []
    return [Finding("warning", "budget_parts_differ",
                    f"the funding sources add up to {sum(parts):g} 万元, the total is "
                    f"{total:g} 万元", column="budget.total_wan_yuan", value=total,
                    hint="check the amounts against the plan (kept as written; "
                         "`gisplan report` shows the difference)")]


# ================================================================= locating keys in the text


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"""^\s*([A-Za-z0-9_\-."' ]+?)\s*=""")


def _dotted(text: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in text.split("."))


def _key_lines(text: str) -> tuple[dict[tuple[Any, ...], int], list[Problem]]:
    """Return the line of every key path in *text*, and the keys given twice."""
    lines, twice, _ = _scan(text)
    return lines, twice


def _scan(text: str) -> tuple[dict[tuple[Any, ...], int], list[Problem], tuple[Any, ...]]:
    """Scan *text* for [tables] and keys: their lines, keys given twice, the last table."""
    lines: dict[tuple[Any, ...], int] = {}
    twice: list[Problem] = []
    current: tuple[Any, ...] = ()
    counters: dict[tuple[str, ...], int] = {}
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line) if stripped.startswith("[") else None
        if header:
            names = _dotted(header.group(2))
            if header.group(1) == "[[":
                counters[names] = counters.get(names, -1) + 1
                current = (*names, counters[names])
            else:
                current = names
            lines.setdefault(current, no)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            path = (*current, *_dotted(assign.group(1)))
            if path in lines:
                twice.append(Problem(path, f"is given twice (lines {lines[path]} and {no})",
                                     hint="keep one of them", line=no))
            lines.setdefault(path, no)
    return lines, twice, current


def _locate(problems: Iterable[Problem], lines: Mapping[tuple[Any, ...], int]) -> list[Problem]:
    out = []
    for p in problems:
        line = None
        for n in range(len(p.path), 0, -1):
            line = lines.get(p.path[:n])
            if line:
                break
        out.append(Problem(p.path, p.message, p.value, p.hint, line or p.line, p.where))
    return out


def _syntax_problem(exc: tomllib.TOMLDecodeError, text: str) -> Problem:
    """Turn a TOML syntax error into a problem naming the line, key and fix."""
    message = str(exc)
    m = re.search(r"\(at line (\d+), column \d+\)", message)
    line = int(m.group(1)) if m else None
    reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    src = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    assign = _ASSIGN.match(src)
    table = _scan("\n".join(text.splitlines()[: (line or 1) - 1]))[2]
    key = (*table, *_dotted(assign.group(1))) if assign else table
    value = src.split("=", 1)[1].split("#")[0].strip() if assign else None
    if "date" in reason.lower() and value:
        try:
            _date(value)
        except _ValError as bad:
            return Problem(key, bad.message, value, bad.hint, line)
    hint = ('check this line: text in double quotes (name = "…"), lists in [ ] with commas, '
            "one key = value per line, [table] names on their own line")
    if reason.startswith("Cannot overwrite") or reason.startswith("Cannot declare"):
        hint = "a key or [table] is given twice; keep one"
    return Problem(key, f"not valid TOML: {reason}", value, hint, line)


# ================================================================= public API


def loads_programme(text: str, *, file: str | None = None, partial: bool = False,
                    overrides: Mapping[str, Any] | None = None) -> Programme:
    """Check a programme file's text and return it as :class:`Programme`.

    Parameters
    ----------
    text : str
        The TOML text.
    file : str, optional
        The file's name, for messages.
    partial : bool, default False
        Accept a file that gives only some keys (``gisplan programme set``); by default
        ``[programme]`` ``name``, ``city`` and ``year`` are required.
    overrides : mapping, optional
        ``[programme]`` values given otherwise (``gisplan init --name --city --year``);
        they replace the file's, and problems in them name the option.

    Returns
    -------
    Programme

    Raises
    ------
    ProgrammeError
        Listing every problem with its line, key, value and fix.
    """
    lines, twice = _key_lines(text)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProgrammeError(twice or [_syntax_problem(exc, text)], file=file) from None
    if overrides and isinstance(raw.setdefault("programme", {}), dict):
        raw["programme"].update(overrides)
    problems: list[Problem] = []
    doc = _walk(raw, SPEC, (), problems, partial=True)
    given: dict[str, Any] = raw["programme"] if isinstance(raw.get("programme"), dict) else {}
    if not partial:
        problems += [Problem(("programme", key), f"{k.zh} {key} is missing",
                             hint=f"pass {k.option} or add {key} = … ({k.zh}) under [programme]")
                     for key, k in PROGRAMME_KEYS.items() if k.required and key not in given]
    cross, warnings = ([], []) if problems else _cross_check(doc)
    problems += cross
    if problems:
        located = [_from_option(p, overrides) for p in _locate(problems, lines)]
        raise ProgrammeError(located, file=file)
    report = Report()
    report.extend(Finding(w.severity, w.code, w.message, file=file, column=w.column,
                          value=w.value, hint=w.hint) for w in warnings)
    return Programme(doc, programme_meta(doc), report)


def _from_option(p: Problem, overrides: Mapping[str, Any] | None) -> Problem:
    key = p.path[1] if len(p.path) == 2 and p.path[0] == "programme" else None
    if not overrides or key not in overrides:
        return p
    where = f"{PROGRAMME_KEYS[str(key)].option} {overrides[str(key)]}"
    return Problem(p.path, p.message, p.value, p.hint, None, where)


def read_programme(path: str | Path, *, partial: bool = False,
                   overrides: Mapping[str, Any] | None = None) -> Programme:
    """Read and check the programme file *path* (see :func:`loads_programme`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path),
                         hint="write one with `gisplan init --template programme.toml`") from None
    except UnicodeDecodeError:
        raise InputError("the programme file is not UTF-8 text", file=str(path),
                         hint="save it as UTF-8 (记事本: 另存为 → 编码 UTF-8)") from None
    return loads_programme(text, file=str(path), partial=partial, overrides=overrides)


def programme_meta(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return programme metadata (DESIGN.md) for a checked programme file *doc*.

    ``[programme]`` keys become top-level keys; ``[bundling] level`` is
    ``bundle_level`` and its other keys ``bundle_defaults``; ``[budget]`` gives
    ``budget`` (funding lines), ``budget_total_wan_yuan`` and ``budget_source``.

    Examples
    --------
    >>> programme_meta({"bundling": {"level": "street", "gap_m": 15.0}})
    {'bundle_level': 'street', 'bundle_defaults': {'gap_m': 15.0}}
    """
    meta: dict[str, Any] = dict(doc.get("programme", {}))
    if doc.get("targets"):
        meta["targets"] = dict(doc["targets"])
    budget = doc.get("budget", {})
    if "funding" in budget:
        meta["budget"] = [{"source": f["source"],
                           "zh": f.get("zh") or FUNDING_SOURCES[f["source"]],
                           "amount_wan_yuan": f["amount_wan_yuan"]} for f in budget["funding"]]
    if "total_wan_yuan" in budget:
        meta["budget_total_wan_yuan"] = budget["total_wan_yuan"]
    if "note" in budget:
        meta["budget_source"] = budget["note"]
    for name in ("milestones", "start_criteria"):
        if name in doc:
            meta[name] = [dict(item) for item in doc[name]]
    for item in meta.get("start_criteria", []):
        item.setdefault("zh", _criteria().get(item["key"], item["key"]))
    bundling = dict(doc.get("bundling", {}))
    if "level" in bundling:
        meta["bundle_level"] = bundling.pop("level")
    if bundling:
        meta["bundle_defaults"] = bundling
    return meta


def programme_doc(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return the programme-file form of programme metadata (the inverse of programme_meta).

    Keys the file does not hold (``synthetic``, ``sources``, ``bundle_options``, ...)
    are left out; empty values are dropped.

    Examples
    --------
    >>> programme_doc({"name": "示例", "year": 2024, "bundle_level": "street", "sample": "x"})
    {'programme': {'name': '示例', 'year': 2024}, 'bundling': {'level': 'street'}}
    """
    doc: dict[str, Any] = {}
    prog = {k: meta[k] for k in PROGRAMME_KEYS if _given(meta.get(k))}
    if prog:
        doc["programme"] = prog
    targets = {k: v for k, v in (meta.get("targets") or {}).items() if _given(v)}
    if targets:
        doc["targets"] = targets
    budget: dict[str, Any] = {}
    if _given(meta.get("budget_total_wan_yuan")):
        budget["total_wan_yuan"] = meta["budget_total_wan_yuan"]
    if _given(meta.get("budget_source")):
        budget["note"] = meta["budget_source"]
    if meta.get("budget"):
        budget["funding"] = [dict(f) for f in meta["budget"]]
    if budget:
        doc["budget"] = budget
    for name in ("milestones", "start_criteria"):
        if meta.get(name):
            doc[name] = [dict(item) for item in meta[name]]
    bundling = dict(meta.get("bundle_defaults") or {})
    if _given(meta.get("bundle_level")):
        bundling = {"level": meta["bundle_level"], **bundling}
    if bundling:
        doc["bundling"] = bundling
    return doc


def _given(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Merge *new* into *old*: tables key by key, lists (milestones, ...) replaced."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def check_update(meta: Mapping[str, Any], update: Programme, *,
                 file: str | None = None, text: str | None = None) -> dict[str, Any]:
    """Return the metadata keys to write when *update* is applied to a programme.

    Tables are merged key by key; lists (``milestones``, ``start_criteria``, budget
    funding lines) given in *update* replace the stored ones. The merged programme is
    checked as a whole (min ≤ max households, start date before the milestones).

    Raises
    ------
    ProgrammeError
        When the merged programme is not consistent; nothing is written.
    """
    merged = _merge(programme_doc(meta), update.doc)
    problems, warnings = _cross_check(merged)
    if problems:
        lines = _key_lines(text)[0] if text else {}
        raise ProgrammeError(_locate(problems, lines), file=file)
    update.report.extend(w for w in warnings if w not in update.report.findings)
    new_meta = programme_meta(merged)
    return {k: v for k, v in new_meta.items() if meta.get(k) != v}


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw.strip()


def apply_settings(meta: Mapping[str, Any], settings: Sequence[str]) -> Programme:
    """Apply ``KEY=VALUE`` settings (``gisplan programme set --set``) to programme metadata.

    Parameters
    ----------
    meta : mapping
        The programme's current metadata.
    settings : sequence of str
        ``year=2024``, ``bundling.level=street``, ``counties=魏都区,建安区``,
        ``milestones.all_started.date=2024-06-30``. Values are read as TOML
        (numbers, dates, ``[lists]``), else as text.

    Returns
    -------
    Programme
        The changed part of the programme, checked (pass it to :func:`check_update`).

    Raises
    ------
    ProgrammeError
        Naming the ``--set`` that is wrong, the value and the fix.

    Examples
    --------
    >>> apply_settings({"name": "示例"}, ["year=2025", "bundling.level=街道"]).doc
    {'programme': {'year': 2025}, 'bundling': {'level': 'street'}}
    >>> apply_settings({}, ["bundling.level=block"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gisplan.programme.ProgrammeError: 1 problem in the programme settings ...:
      --set bundling.level=block: is not a district level ... Fix: use one of: pianqu (片区), ...
    """
    fragment: dict[str, Any] = {}
    given: dict[tuple[Any, ...], str] = {}
    problems: list[Problem] = []
    current = programme_doc(meta)
    for setting in settings:
        where = f"--set {setting}"
        key, sep, raw = setting.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(Problem((), "is not KEY=VALUE", setting,
                                    "write e.g. --set year=2024", where=where))
            continue
        path = _setting_path(key, current, fragment)
        if isinstance(path, Problem):
            problems.append(Problem(path.path, path.message, path.value, path.hint, where=where))
            continue
        _put(fragment, path, _parse_value(raw))
        given[path] = where
    if problems:
        raise ProgrammeError(problems)
    checked: list[Problem] = []
    doc = _walk(fragment, SPEC, (), checked, partial=True)
    if checked:
        raise ProgrammeError([_with_where(p, given) for p in checked])
    return Programme(doc, programme_meta(doc))


def _with_where(p: Problem, given: Mapping[tuple[Any, ...], str]) -> Problem:
    where = given.get(p.path) or next((w for k, w in given.items() if k[:2] == p.path[:2]), None)
    return Problem(p.path, p.message, p.value, p.hint, where=where)


def _setting_path(key: str, current: Mapping[str, Any],
                  fragment: dict[str, Any]) -> tuple[Any, ...] | Problem:
    """Return the file path of a ``--set`` key; copy a milestone into *fragment* to edit it."""
    parts = key.split(".")
    if len(parts) == 1 and key in PROGRAMME_KEYS:
        return ("programme", key)
    if len(parts) == 2 and parts[0] == "programme" and parts[1] in PROGRAMME_KEYS:
        return ("programme", parts[1])
    if len(parts) == 3 and parts[0] in ("milestones", "start_criteria"):
        items = fragment.setdefault(parts[0], [dict(i) for i in current.get(parts[0], [])])
        keys = [str(i.get("key")) for i in items]
        if parts[1] not in keys:
            return Problem((parts[0],), f"no {parts[0]} entry with key '{parts[1]}'", parts[1],
                           _suggest(parts[1], keys) if keys else
                           f"add {parts[0]} with a programme file (gisplan programme set "
                           "STORE FILE.toml)")
        return (parts[0], keys.index(parts[1]), parts[2])
    if key in settable_keys():
        return tuple(parts)
    return Problem(tuple(parts), "unknown key", None,
                   _suggest(key, settable_keys()) + "; milestones: milestones.<key>.<field>")


def _put(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = doc
    for part in path[:-1]:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    node[path[-1]] = value


# ================================================================= showing and writing


def template_text() -> str:
    """Return the commented example programme file (``data/programme_template.toml``).

    Examples
    --------
    >>> loads_programme(template_text()).meta["city"]
    '示例市'
    """
    return resources.files("gisplan.data").joinpath("programme_template.toml").read_text(
        encoding="utf-8")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def dumps_programme(doc: Mapping[str, Any]) -> str:
    """Write a programme-file *doc* as TOML text (no comments), readable by loads_programme.

    Examples
    --------
    >>> print(dumps_programme({"programme": {"name": "示例", "year": 2024}}))
    [programme]
    name = "示例"
    year = 2024
    <BLANKLINE>
    """
    out: list[str] = []

    def table(header: str, data: Mapping[str, Any]) -> None:
        out.append(header)
        for k, v in data.items():
            if not (isinstance(v, list) and v and isinstance(v[0], dict)):
                out.append(f"{k} = {_toml_value(v)}")
        for k, v in data.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                name = header.strip("[]")
                for item in v:
                    out.append("")
                    table(f"[[{name}.{k}]]", item)

    for name, value in doc.items():
        if out:
            out.append("")
        if isinstance(value, list):
            for i, item in enumerate(value):
                if i:
                    out.append("")
                table(f"[[{name}]]", item)
        else:
            table(f"[{name}]", value)
    return "\n".join(out) + "\n"


def format_programme(meta: Mapping[str, Any]) -> str:
    """Return programme metadata as readable text with Chinese labels (``programme show``).

    Examples
    --------
    >>> print(format_programme({"name": "示例", "city": "示例市", "year": 2024,
    ...                         "rule_set": "guyuan_2022"}).splitlines()[0])
    项目 programme          示例
    """
    lines = _format_head(meta)
    lines += _format_targets_budget(meta)
    lines += _format_milestones(meta)
    lines += _format_bundling(meta)
    known = set(PROGRAMME_KEYS) | {"targets", "budget", "budget_total_wan_yuan",
                                   "budget_source", "milestones", "start_criteria",
                                   "bundle_level", "bundle_defaults"}
    other = [k for k in meta if k not in known]
    if other:
        lines.append(_row("其他 other keys", ", ".join(other)))
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _row(label: str, value: Any) -> str:
    return label + " " * max(1, 24 - _width(label)) + str(value)


def _format_head(meta: Mapping[str, Any]) -> list[str]:
    name = meta.get("name") or "—"
    lines = [_row("项目 programme", name + (f" ({meta['name_en']})" if meta.get("name_en")
                                         else ""))]
    place = " ".join(str(meta[k]) for k in ("province", "city") if meta.get(k)) or "— (not set)"
    lines.append(_row("城市 city", place))
    lines.append(_row("县区 counties", "、".join(meta.get("counties") or []) or "— (not set)"))
    lines.append(_row("年度 year", meta.get("year") or "— (not set)"))
    lines.append(_row("起算日期 start_date", meta.get("start_date")
                      or "— (1 January of the first milestone's year)"))
    rs = meta.get("rule_set")
    sets = rule_sets()
    if rs:
        lines.append(_row("规则集 rule_set", f"{rs} — {sets.get(rs, 'not in rules.toml!')}"))
    else:
        d = default_rule_set()
        lines.append(_row("规则集 rule_set", f"— (not set: the default {d} — {sets.get(d, '')})"))
    return lines


def _format_targets_budget(meta: Mapping[str, Any]) -> list[str]:
    targets = meta.get("targets") or {}
    labels = {"compounds": "小区 compounds", "households": "户数 households",
              "buildings": "楼栋 buildings", "floor_area_m2": "住宅建筑面积 m²"}
    parts = [f"{labels[k]} {targets[k]:g}" for k in labels if _given(targets.get(k))]
    lines = [_row("计划指标 targets", " · ".join(parts) or "— (not set)")]
    total = meta.get("budget_total_wan_yuan")
    lines.append(_row("资金 budget", f"总投资 total {total:g} 万元" if _given(total)
                      else "— (not set)"))
    for f in meta.get("budget") or []:
        lines.append(f"  - {f.get('zh') or FUNDING_SOURCES.get(f['source'], '')} "
                     f"({f['source']}): {f['amount_wan_yuan']:g} 万元")
    return lines


def _format_milestones(meta: Mapping[str, Any]) -> list[str]:
    from gisplan.schema import zh

    lines = [_row("里程碑 milestones", "" if meta.get("milestones") else "— (none)")]
    for m in meta.get("milestones") or []:
        stage, _, unit = str(m.get("measure", "")).rpartition("_")
        unit_zh = "按户数 households" if unit == "households" else "按小区数 compounds"
        cats = f", 仅 only {m['categories']}" if m.get("categories") else ""
        lines.append(f"  - {m.get('date')}  {m.get('zh')} ({m.get('key')}): "
                     f"{zh('stage', stage)} {stage}, {unit_zh} ≥ {m.get('target', 0):.0%}{cats}")
    crit = meta.get("start_criteria") or []
    lines.append(_row("开工条件 start_criteria", "" if crit else "— (none)"))
    for c in crit:
        minimum = f" ≥ {c['min']:.0%}" if _given(c.get("min")) else ""
        lines.append(f"  - {c.get('key')}{minimum}: {c.get('zh', '')}")
    return lines


def _format_bundling(meta: Mapping[str, Any]) -> list[str]:
    from gisplan.schema import zh

    level = meta.get("bundle_level")
    d = meta.get("bundle_defaults") or {}
    parts = [f"层级 level {zh('district_level', level)} {level}" if level
             else "层级 level — (not set: 片区 pianqu)"]
    if "min_households" in d or "max_households" in d:
        parts.append(f"户数 households {d.get('min_households', '…')}–"
                     f"{d.get('max_households', '…')}")
    if "gap_m" in d:
        parts.append(f"间距 gap {d['gap_m']:g} m")
    if "max_span_m" in d:
        parts.append(f"跨度 span ≤ {d['max_span_m']:g} m")
    return [_row("连片打包 bundling", " · ".join(parts))]
