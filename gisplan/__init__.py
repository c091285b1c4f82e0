"""gisplan: GIS planning for the renovation of old residential compounds (城镇老旧小区改造)."""

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
]
