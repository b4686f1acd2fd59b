"""The resource catalog (资源目录): the one place that describes every resource."""

from govlake.catalog.loader import CatalogError, load_catalog
from govlake.catalog.model import Catalog, DataElement, Department, Field, Resource, System

__all__ = [
    "Catalog",
    "CatalogError",
    "DataElement",
    "Department",
    "Field",
    "Resource",
    "System",
    "load_catalog",
]
