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

            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out + out.err

    return run
