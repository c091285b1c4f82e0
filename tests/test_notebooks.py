"""The notebooks run top to bottom on the sample programmes (on private copies)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LAYERS = Path(__file__).resolve().parents[1] / "layers"

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if not any(LAYERS.glob("*.gpkg")):
        pytest.fail(f"sample programmes missing in {LAYERS}: run `gisplan samples`")
    before = {p.name: p.stat().st_mtime_ns for p in LAYERS.glob("*.gpkg")}
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # the kernel is this interpreter, whatever kernelspecs the machine has
    monkeypatch.setenv("GISPLAN_LAYERS", str(LAYERS))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.kernel_manager_class = _current_python_manager()
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    assert {p.name: p.stat().st_mtime_ns for p in LAYERS.glob("*.gpkg")} == before
    assert any(tmp_path.rglob("*.html")), "the notebook should save its map"


def _current_python_manager():
    from jupyter_client.manager import KernelManager

    class CurrentPython(KernelManager):
        """Start the kernel with this interpreter (the venv), not a PATH lookup."""

        def format_kernel_cmd(self, extra_arguments=None):
            return [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]

    return CurrentPython
