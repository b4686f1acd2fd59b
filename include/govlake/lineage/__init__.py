"""Lineage and metadata: OpenLineage events from every step, the metadata store built
from them and from the tools' own descriptions, and the questions asked of it (lineage,
impact, change history, the catalog site)."""
