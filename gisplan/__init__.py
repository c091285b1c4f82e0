"""gisplan: GIS planning for the renovation of old residential compounds (城镇老旧小区改造).

The most used functions are available from the top level and imported on first use, so
that ``import gisplan`` stays light (maps pull in folium only when a map is made)::

    import gisplan
    p = gisplan.Project.open("layers/guyuan_2022.gpkg")
    report = gisplan.validate_project(p).merge(gisplan.reconcile(p))
    res = gisplan.bundle_project(p)
    cov = gisplan.coverage_project(p)
    gisplan.save_map(gisplan.bundles_map(p), "maps/guyuan_bundles.html")
"""

from __future__ import annotations

import importlib
from typing import Any

from gisplan._errors import (
    ConstraintError,
    CRSError,
    GeometryError,
    GisplanError,
    InputError,
    SchemaError,
    StoreError,
)
from gisplan.findings import Finding, Report

__version__ = "0.1.0"

#: public name -> module that defines it (imported lazily, PEP 562)
_LAZY: dict[str, str] = {
    "Project": "gisplan.store",
    "read_layer": "gisplan.read",
    "read_table": "gisplan.read",
    "metric_crs": "gisplan.crs",
    "to_metric": "gisplan.crs",
    "validate_layer": "gisplan.validate",
    "validate_project": "gisplan.validate",
    "reconcile": "gisplan.reconcile",
    "join_project": "gisplan.join",
    "bundle_compounds": "gisplan.bundle",
    "bundle_project": "gisplan.bundle",
    "coverage": "gisplan.coverage",
    "coverage_project": "gisplan.coverage",
    "site": "gisplan.siting",
    "site_project": "gisplan.siting",
    "load_standard": "gisplan.standards",
    "design_gaps": "gisplan.design",
    "import_reports": "gisplan.progress",
    "read_log": "gisplan.progress",
    "compound_status": "gisplan.progress",
    "progress_series": "gisplan.progress",
    "progress_summary": "gisplan.progress",
    "milestone_status": "gisplan.progress",
    "write_report": "gisplan.report",
    "make_map": "gisplan.maps",
    "progress_map": "gisplan.maps",
    "gaps_map": "gisplan.maps",
    "bundles_map": "gisplan.maps",
    "utilities_map": "gisplan.maps",
    "save_map": "gisplan.maps",
    "synth_city": "gisplan.synth",
    "build_samples": "gisplan.samples",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gisplan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CRSError",
    "ConstraintError",
    "Finding",
    "GeometryError",
    "GisplanError",
    "InputError",
    "Report",
    "SchemaError",
    "StoreError",
    "__version__",
    *_LAZY,
]
