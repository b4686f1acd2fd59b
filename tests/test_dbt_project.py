"""The dbt project is one with the catalog and the standards."""

from __future__ import annotations

import json

from govlake.catalog.loader import load_catalog
from govlake.transform.dbt import SEED_DIR, out_of_date


def test_generated_sources_and_seed_links_are_up_to_date():
    stale = out_of_date(load_catalog())
    assert stale == [], f"run `govlake dbt sync`: {stale}"


def test_every_catalog_resource_is_a_dbt_source_with_freshness(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    # the batch resources of the catalog (the sensor streams' tables have their own test)
    sources = {
        s["identifier"]: s for s in manifest["sources"].values() if s["source_name"] != "sensor"
    }
    catalog = load_catalog()
    assert set(sources) == {r.raw_table for r in catalog.resources.values()}
    for resource in catalog.resources.values():
        source = sources[resource.raw_table]
        assert source["schema"] == "raw"
        assert source["loaded_at_field"] == "_loaded_at"
        assert source["freshness"]["error_after"]["count"], resource.id
        assert set(source["columns"]) == set(resource.field_names)


def test_every_code_set_is_a_seed(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    seeds = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "seed"}
    on_disk = {p.stem for p in SEED_DIR.rglob("*.csv")}
    assert on_disk and on_disk <= seeds
