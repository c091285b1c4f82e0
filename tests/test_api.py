"""The top-level API: every advertised name resolves; importing stays light."""

from __future__ import annotations

import subprocess
import sys

import gisplan


def test_every_public_name_resolves() -> None:
    missing = [name for name in gisplan.__all__ if getattr(gisplan, name, None) is None]
    assert missing == []


def test_import_does_not_load_folium() -> None:
    code = "import sys, gisplan; print('folium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        gisplan.no_such_function  # noqa: B018
    except AttributeError as exc:
        assert "no_such_function" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
