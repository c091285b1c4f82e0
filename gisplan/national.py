"""A national programme: a folder of city programmes, analysed city by city.

Layout (the store of ``gisplan synth --cities N``)::

    national/
        national.json        the index: name, year, and per city code, name, province,
                             centre, compounds and its store
        cities/C001.gpkg     one complete programme store per city
        cities/C002.gpkg

Why a folder of city stores rather than one store with a ``city`` column: each city's
analysis is independent (its own metric CRS, network, bundles and progress log), so a
city store is the natural unit of work. A worker opens one file and writes into it
without contending with the others for the store's write lock (one SQLite file
serialises its writers); a broken city is one file and cannot corrupt the rest; every
existing command (``gisplan check cities/C001.gpkg``, QGIS) works on a city as it is;
and a city is re-run or replaced alone. What crosses cities is exchanged as GeoParquet
partitioned by city (:mod:`gisplan.parquet`: ``<out>/parquet/<layer>/city=C001/``),
which dask-geopandas, DuckDB and Spark read as one national table.

:func:`run` runs the steps of :mod:`gisplan.pipeline` on every city, in this process or
on a dask.distributed cluster (``workers=N`` starts a LocalCluster of N processes on
the loopback interface; ``scheduler=ADDRESS`` uses an existing cluster); the results
are the same either way, because each city runs the same functions on the same file.

Examples
--------
>>> import tempfile, pathlib
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> nat = synth_national(tmp / "nat", cities=2, compounds=80, seed=3)
>>> [c.code for c in nat.cities], is_national(tmp / "nat")
(['C001', 'C002'], True)
>>> res = run(tmp / "nat", out=tmp / "out", steps=["check", "join"])
>>> res.finished, res.failed
(['C001', 'C002'], {})
>>> [t.name for t in summary_tables(res)]  # the national office's workbook
['分省汇总', '城市明细', '运行用时']
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gisplan._errors import InputError
from gisplan.pipeline import (
    RUN_DETAIL_CELLS,
    STEPS,
    RunContext,
    StepResult,
    run_programme,
    run_step,
)

if TYPE_CHECKING:
    from gisplan.report import Table

__all__ = ["INDEX", "SUMMARY", "CityEntry", "NationalProgramme", "RunResult", "is_national",
           "open_national", "run", "summary_tables", "synth_national", "targets",
           "write_summary"]

#: the index file of a national programme folder
INDEX = "national.json"


@dataclass(frozen=True)
class CityEntry:
    """One city in the index of a national programme."""

    code: str
    name: str
    province: str
    store: str  # relative to the folder
    compounds: int = 0
    center: tuple[float, float] | None = None


@dataclass(frozen=True)
class NationalProgramme:
    """A national programme folder: its index and city stores."""

    folder: Path
    name: str
    year: int | None
    cities: list[CityEntry]

    def store(self, city: CityEntry | str) -> Path:
        """Path of the store of *city* (an entry or its code)."""
        code = city if isinstance(city, str) else city.code
        for c in self.cities:
            if c.code == code:
                return self.folder / c.store
        raise InputError("no such city in the national programme", file=str(self.folder),
                         value=code, hint="the codes are in national.json")


def is_national(path: str | os.PathLike[str]) -> bool:
    """Return True when *path* is a folder holding a national programme index."""
    return (Path(path) / INDEX).is_file()


def open_national(folder: str | os.PathLike[str]) -> NationalProgramme:
    """Read the index of the national programme in *folder*."""
    folder = Path(folder)
    try:
        data = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        cities = [CityEntry(**{**c, "center": tuple(c["center"]) if c.get("center") else None})
                  for c in data["cities"]]
    except FileNotFoundError:
        raise InputError("not a national programme (no national.json)", file=str(folder),
                         hint="make one with gisplan synth --cities N --compounds M") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the national index cannot be read ({exc})",
                         file=str(folder / INDEX),
                         hint="rewrite it: a JSON object with name, year and cities") from None
    return NationalProgramme(folder, str(data.get("name", folder.name)), data.get("year"),
                             cities)


def _write_index(nat: NationalProgramme, extra: dict[str, Any]) -> None:
    data = {"name": nat.name, "year": nat.year, **extra,
            "cities": [asdict(c) for c in nat.cities]}
    tmp = nat.folder / (INDEX + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, nat.folder / INDEX)


def synth_national(folder: str | os.PathLike[str], *, cities: int, compounds: int,
                   seed: int = 0, overwrite: bool = False,
                   on_city: Callable[[CityEntry], Any] | None = None,
                   **options: Any) -> NationalProgramme:
    """Generate a synthetic national programme into *folder* (one store per city).

    Parameters
    ----------
    folder : path
        Created; must not hold a programme unless *overwrite*.
    cities, compounds : int
        Number of cities, and of compounds over all of them.
    seed : int, default 0
    overwrite : bool, default False
    on_city : callable, optional
        Called with each city's entry once its store is written (progress bars).
    **options
        Passed to :func:`gisplan.synth.synth_city`.
    """
    from gisplan.store import Project
    from gisplan.synth import (
        NATIONAL_YEAR,
        national_cities,
        national_city_meta,
        synth_national_city,
    )

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise InputError("the folder exists and is not empty", file=str(folder),
                         hint="choose another folder or pass --overwrite")
    (folder / "cities").mkdir(parents=True, exist_ok=True)
    name = f"合成全国{NATIONAL_YEAR}年城镇老旧小区改造计划 ({cities} cities, seed {seed})"
    entries = []
    for city in national_cities(cities=cities, compounds=compounds, seed=seed):
        layers = synth_national_city(city, **options)
        store = f"cities/{city.code}.gpkg"
        Project.create(folder / store, meta=national_city_meta(city, layers, national=name),
                       layers=layers, overwrite=True)
        entry = CityEntry(city.code, city.name, city.province, store, city.compounds,
                          city.center)
        entries.append(entry)
        if on_city is not None:
            on_city(entry)
    nat = NationalProgramme(folder, name, NATIONAL_YEAR, entries)
    _write_index(nat, {"synthetic": True, "seed": seed,
                       "synthetic_note": f"gisplan synth --cities {cities} --compounds "
                                         f"{compounds} --seed {seed}"})
    return nat


def targets(source: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """Return the (city, store) pairs of *source*: every city of a folder, or one store.

    A single programme's "city" is its file stem.
    """
    path = Path(source)
    if path.is_dir():
        nat = open_national(path)
        return [(c.code, nat.store(c)) for c in nat.cities]
    if not path.exists():
        raise InputError("no such programme", file=str(path), hint="check the path")
    return [(path.stem, path)]


# ------------------------------------------------------------------ running


@dataclass
class RunResult:
    """Everything a run did, city by city and step by step.

    Attributes
    ----------
    results : list of StepResult
        One per city and step, in city order then step order.
    cities : list of str
        The cities run, in order.
    engine : str
        ``"local"`` or the dask scheduler address.
    workers : dict
        Peak resident memory (MB) per worker process (``host:pid``).
    """

    results: list[StepResult]
    cities: list[str]
    engine: str = "local"
    workers: dict[str, float] = field(default_factory=dict)
    places: dict[str, tuple[str, str]] = field(default_factory=dict)
    """City code → (name, province), for a national programme's summary."""

    @property
    def finished(self) -> list[str]:
        """Cities whose every step succeeded, in order."""
        bad = set(self.failed)
        return [c for c in self.cities if c not in bad]

    @property
    def failed(self) -> dict[str, str]:
        """City → ``"<step>: <message>"`` of its first failed step."""
        out: dict[str, str] = {}
        for r in self.results:
            if not r.ok and r.city not in out:
                out[r.city] = f"{r.step}: {r.error}"
        return out

    def step_seconds(self) -> pd.DataFrame:
        """Seconds per step: total over cities, and the slowest city."""
        frame = pd.DataFrame([(r.step, r.seconds) for r in self.results],
                             columns=["step", "seconds"])
        g = frame.groupby("step", sort=False)["seconds"]
        return pd.DataFrame({"total_s": g.sum(), "max_city_s": g.max()}).reset_index()

    def by_province(self) -> pd.DataFrame:
        """One row per province: cities, finished, failed and the figures summed.

        Empty when the cities have no province (one programme).
        """
        cities = self.cities_frame()
        if "province" not in cities or not cities["province"].notna().any():
            return pd.DataFrame(columns=["province", "cities", "finished", "failed"])
        ok = cities["status"].eq("ok 完成")
        g = cities.assign(_ok=ok.astype(int), _failed=(~ok).astype(int)).groupby(
            "province", sort=True)
        by = pd.DataFrame({"cities": g.size(), "finished": g["_ok"].sum(),
                           "failed": g["_failed"].sum()})
        for col in _SUMMED:
            if col in cities:
                by[col] = g[col].sum(min_count=1)
        return by.reset_index()

    def cities_frame(self) -> pd.DataFrame:
        """One row per city: status, failed step and message, and the step figures."""
        rows: dict[str, dict[str, Any]] = {c: {"city": c} for c in self.cities}
        for c, (name, province) in self.places.items():
            if c in rows:
                rows[c] |= {"name": name, "province": province}
        failed = self.failed
        for r in self.results:
            for k, v in r.figures.items():
                if isinstance(v, int | float | str | bool) or v is None:
                    rows[r.city][k] = v
        for c, row in rows.items():
            row["status"] = "failed 失败" if c in failed else "ok 完成"
            row["failed_at"] = failed.get(c)
        frame = pd.DataFrame(list(rows.values()))
        for col in frame.select_dtypes("number").columns:  # counts stay counts beside a gap
            values = frame[col].dropna()
            if frame[col].dtype.kind == "f" and (values == values.round()).all():
                frame[col] = frame[col].astype("Int64")
        return frame


def _where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _run_step_on_worker(step: str, store: str, ctx: RunContext,
                        previous: tuple[StepResult, str] | None) -> tuple[StepResult, str]:
    """One step on a worker; *previous* is the (result, where) of the step before."""
    return run_step(step, store, ctx, None if previous is None else previous[0]), _where()


def run(source: str | os.PathLike[str], *, out: str | os.PathLike[str],
        steps: Sequence[str] = STEPS, workers: int | None = None,
        scheduler: str | None = None,
        on_step: Callable[[StepResult], Any] | None = None,
        detail_cells: int | None = RUN_DETAIL_CELLS) -> RunResult:
    """Run the analysis of every city of *source*, in this process or on dask.

    Parameters
    ----------
    source : path
        A national programme folder or one programme store.
    out : path
        Output folder (reports, maps, GeoParquet partitions by city).
    steps : sequence of str
        Steps of :data:`gisplan.pipeline.STEPS`, in order.
    workers : int, optional
        Start a dask.distributed LocalCluster of this many worker processes (one thread
        each, loopback only). None: no local cluster.
    scheduler : str, optional
        Address of an existing dask scheduler (``tcp://host:8786``); the stores and
        *out* must be on a file system the workers see at the same path. None: none.
        With neither *workers* nor *scheduler*, the cities run one after the other here.
    on_step : callable, optional
        Called with each :class:`StepResult` as it arrives (progress bars).
    detail_cells : int or None, default RUN_DETAIL_CELLS
        Report tables of more cells go to CSV beside each city's workbook
        (:class:`gisplan.pipeline.RunContext`); None: every table whole.

    Returns
    -------
    RunResult
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise InputError("unknown step", value=unknown[0], hint=f"one of {', '.join(STEPS)}")
    pairs = targets(source)
    places = ({c.code: (c.name, c.province) for c in open_national(source).cities}
              if is_national(source) else {})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if workers is None and scheduler is None:
        results: list[StepResult] = []
        for city, store in pairs:
            results += run_programme(store, RunContext(out, city, detail_cells), steps=steps,
                                     on_step=on_step)
        peak = max((r.peak_mb for r in results), default=0.0)
        result = RunResult(results, [c for c, _ in pairs], "local", {_where(): peak})
    else:
        result = _run_dask(pairs, out, steps, workers=workers, scheduler=scheduler,
                           on_step=on_step, detail_cells=detail_cells)
    result.places = places
    return result


def _client(workers: int | None, scheduler: str | None) -> Any:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("dask.distributed is not installed",
                         hint="pip install 'gisplan[dask]' (dask[distributed], "
                              "dask-geopandas)") from None
    if scheduler is not None:
        return Client(scheduler, timeout="30s")
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    return Client(cluster)


def _run_dask(pairs: list[tuple[str, Path]], out: Path, steps: Sequence[str], *,
              workers: int | None, scheduler: str | None,
              on_step: Callable[[StepResult], Any] | None,
              detail_cells: int | None = RUN_DETAIL_CELLS) -> RunResult:
    """One chain of tasks per city (step after step); chains run side by side."""
    from dask.distributed import as_completed

    client = _client(workers, scheduler)
    try:
        futures = []
        for city, store in pairs:
            ctx = RunContext(out.resolve(), city, detail_cells)
            prev = None
            for step in steps:
                f = client.submit(_run_step_on_worker, step, str(Path(store).resolve()), ctx,
                                  prev, key=f"{step}-{city}-{os.getpid()}",
                                  pure=False, retries=0)
                futures.append(f)
                prev = f
        done: dict[str, tuple[StepResult, str]] = {}
        for f in as_completed(futures):
            res, where = f.result()
            done[f.key] = (res, where)
            if on_step is not None:
                on_step(res)
        ordered = [done[f.key] for f in futures]
        peaks: dict[str, float] = {}
        for res, where in ordered:
            peaks[where] = max(peaks.get(where, 0.0), res.peak_mb)
        engine = scheduler or f"LocalCluster({workers} processes)"
        return RunResult([r for r, _ in ordered], [c for c, _ in pairs], engine, peaks)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and scheduler is None:
            cluster.close()


# ------------------------------------------------------------------ the summary workbook

#: The run's summary workbook (汇总表), beside ``cities.csv`` in the output folder.
SUMMARY = "summary.xlsx"

#: Figures of a city (:meth:`RunResult.cities_frame`) → Chinese header and kind, in order.
_CITY_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("compounds", "小区数", "int"), ("planned", "计划小区数", "int"),
    ("started", "已开工小区数", "int"), ("completed", "已完工小区数", "int"),
    ("start_rate", "开工率", "pct"), ("completion_rate", "完工率", "pct"),
    ("bundles", "连片项目数", "int"), ("bundled", "连片改造小区数", "int"),
    ("standalone", "单独改造小区数", "int"), ("with_gaps", "设施缺项小区数", "int"),
    ("gap_rate", "设施缺项率", "pct"), ("behind", "滞后里程碑数", "int"),
    ("errors", "数据错误数", "int"), ("warnings", "数据提示数", "int"),
)
#: Figures summed by province (rates are recomputed from the sums).
_SUMMED = ("compounds", "planned", "started", "completed", "bundles", "bundled",
           "standalone", "with_gaps", "behind", "errors", "warnings")


def _rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add 开工率, 完工率 (of the planned compounds) and 设施缺项率 (of the compounds)."""
    def share(num: str, den: str) -> pd.Series:
        if num not in frame or den not in frame:
            return pd.Series(float("nan"), index=frame.index)
        d = pd.to_numeric(frame[den], errors="coerce").astype(float)
        return pd.to_numeric(frame[num], errors="coerce").astype(float) / d.where(d > 0)

    return frame.assign(start_rate=share("started", "planned"),
                        completion_rate=share("completed", "planned"),
                        gap_rate=share("with_gaps", "compounds"))


def summary_tables(result: RunResult) -> list[Table]:
    """Return the sheets of the run's summary workbook (汇总表), in Chinese.

    分省汇总 (a national programme: one row per province and 合计, rates from the
    sums), 城市明细 (one row per city: status, the step that failed and why, and its
    figures) and 运行用时 (seconds per step). The figures are those of
    :meth:`RunResult.cities_frame`; a city that failed counts in 失败城市数 and adds
    only the figures of the steps it finished.

    Parameters
    ----------
    result : RunResult

    Returns
    -------
    list of gisplan.report.Table
    """
    from gisplan.pipeline import STEP_ZH
    from gisplan.report import Table, numbered

    cities = _rates(result.cities_frame())
    figures = [(c, h, k) for c, h, k in _CITY_FIGURES if c in cities]
    kinds: dict[str, Any] = {"序号": "int"} | {h: k for _, h, k in figures}
    tables = []
    by = result.by_province()
    if len(by):
        total = by.drop(columns="province").sum(min_count=1).to_frame().T
        by = _rates(pd.concat([by, total.assign(province="合计")], ignore_index=True))
        frame = by[["province", "cities", "finished", "failed"]
                   + [c for c, _, _ in figures]].rename(columns={
                       "province": "省份", "cities": "城市数", "finished": "完成城市数",
                       "failed": "失败城市数"} | {c: h for c, h, _ in figures})
        tables.append(Table("分省汇总", "全国城镇老旧小区改造分省汇总",
                            numbered(frame, total=True),
                            kinds | {"城市数": "int", "完成城市数": "int",
                                     "失败城市数": "int", "省份": "text"},
                            total_row=True,
                            note="开工率、完工率为占计划小区数的比例；设施缺项率为占小区数的比例"))
    head = {"city": "城市代码", "name": "城市", "province": "省份", "status": "状态",
            "failed_at": "失败步骤及原因", "as_of": "进度截至"}
    cols = [c for c in head if c in cities] + [c for c, _, _ in figures]
    frame = cities[cols].rename(columns=head | {c: h for c, h, _ in figures})
    tables.append(Table("城市明细", "各城市分析结果", numbered(frame),
                        kinds | dict.fromkeys([head[c] for c in head if c in cities],
                                              "text"),
                        note=f"{len(result.finished)} / {len(result.cities)} 个城市完成；"
                             "失败城市的原因见“失败步骤及原因”，其余城市不受影响"))
    steps = result.step_seconds()
    frame = pd.DataFrame({"步骤": [f"{STEP_ZH.get(s, s)} {s}" for s in steps["step"]],
                          "总用时（秒）": steps["total_s"].round(1),
                          "最慢城市用时（秒）": steps["max_city_s"].round(1)})
    tables.append(Table("运行用时", f"各步骤用时（{result.engine}）",
                        numbered(frame),
                        {"序号": "int", "步骤": "text", "总用时（秒）": "float",
                         "最慢城市用时（秒）": "float"}))
    return tables


def write_summary(result: RunResult, path: str | os.PathLike[str]) -> Path:
    """Write the run's summary workbook (:func:`summary_tables`) to *path*; return it."""
    from gisplan.report import write_xlsx

    return write_xlsx(summary_tables(result), Path(path), detail_cells=None)[0]


def rows_across_partitions(out: str | os.PathLike[str], layer: str) -> dict[str, int]:
    """Rows per city in the GeoParquet dataset ``<out>/parquet/<layer>`` (file metadata)."""
    import pyarrow.parquet as pq

    base = Path(out) / "parquet" / layer
    return {p.parent.name.split("=", 1)[1]: pq.ParquetFile(p).metadata.num_rows
            for p in sorted(base.glob("city=*/part.0.parquet"))}
