-- The metadata store (元数据): what the platform's data is, where it comes from and where
-- it goes, filled by the harvesters in govlake.lineage.store and by hand. Idempotent.
--
-- Dataset keys are the platform's own, stable across environments (the OpenLineage
-- namespace/name, which carries hosts and ports, is kept beside them):
--   warehouse tables and views  <schema>.<table>            basic.population
--   object-store batches        lake:<prefix>               lake:raw/civil/household
--   departmental sources        source:<system>/<object>    source:police_hukou/public.person
--   reports, exports, services  report:<name> / export:<name> (dbt exposures, manual)
-- A field key is (dataset, field); field '' on an edge means the dataset as a whole.
--
-- How the tables are filled (govlake.lineage.store): each harvester records what it sees in
-- md_observation (one row per origin, dataset and field); md_dataset and md_field are the
-- merge of every origin's observations, hand-made ones ('manual') first; every change to
-- them, to md_edge and to md_grant is written to md_change. Origins: catalog (include/
-- catalog), dbt (manifest.json, catalog.json), information_schema (the warehouse's own
-- columns), openlineage (events.jsonl), ingestion (columns the loader found beyond the
-- catalog: governance.schema_drift), manual (people, by hand).

create table if not exists governance.md_dataset (
    dataset       text primary key,
    kind          text not null check (kind in (
                      'source', 'lake', 'table', 'view', 'model', 'seed', 'snapshot',
                      'exposure', 'stream', 'other')),
    layer         text not null,   -- source, lake, raw, staging, basic, thematic, special,
                                   -- sensor, standards, governance, report, export, other
    name_zh       text,
    name_en       text,
    description   text,
    owner         text,            -- responsible unit or person (责任单位)
    department    text,
    resource_id   text,            -- the catalog resource it belongs to, when it has one
    ol_namespace  text,
    ol_name       text,
    grade         text,            -- the highest sensitivity grade of its fields (L1-L4)
    tags          text[] not null default '{}',
    origins       text[] not null default '{}', -- catalog, dbt, information_schema, openlineage,
                                                -- ingestion, manual
    first_seen    timestamptz not null default now(),
    last_seen     timestamptz not null default now(),
    dropped_at    timestamptz       -- no longer seen by any harvester (kept for history)
);

create table if not exists governance.md_field (
    dataset       text not null references governance.md_dataset (dataset) on delete cascade,
    name          text not null,
    position      int,
    data_type     text,
    nullable      boolean,
    description   text,
    data_element  text,            -- governance.data_element.id
    code_set      text,
    grade         text,            -- sensitivity grade L1-L4 (null: not known)
    -- grade_basis (added at the end): where the grade comes from: manual, catalog, dbt,
    -- element (its data element's default), lineage:<dataset>.<field> (the most sensitive
    -- field it is computed from), upstream:<dataset>.<field> (the same-named field of a
    -- table it is built from) or ungraded:<dataset>.<field> (computed from a field of no
    -- known grade: L3 at least)
    origins       text[] not null default '{}',
    first_seen    timestamptz not null default now(),
    last_seen     timestamptz not null default now(),
    dropped_at    timestamptz,
    primary key (dataset, name)
);

-- Table- and column-level lineage. One row per (edge, origin): the same edge seen by the
-- dbt manifest and by an OpenLineage event is two rows, which is how we know who saw it.
create table if not exists governance.md_edge (
    edge_id        bigserial primary key,
    source_dataset text not null,
    source_field   text not null default '',
    target_dataset text not null,
    target_field   text not null default '',
    transformation text,           -- OpenLineage type/subtype: DIRECT/IDENTITY, INDIRECT/JOIN ...
    description    text,           -- the step or the expression that makes the target
    job            text,           -- the job that makes it (dbt node model.kaiping.population,
                                   -- Airflow task ingest__civil__low_income.extract ...)
    sql            text,           -- the transformation SQL (compiled model) for table edges
    origin         text not null,  -- openlineage, dbt, catalog, ingestion, manual
    first_seen     timestamptz not null default now(),
    last_seen      timestamptz not null default now(),
    retired_at     timestamptz,    -- no longer produced (kept for history and diff)
    unique (source_dataset, source_field, target_dataset, target_field, origin)
);
create index if not exists md_edge_source on governance.md_edge (source_dataset, source_field);
create index if not exists md_edge_target on governance.md_edge (target_dataset, target_field);

-- Snapshots for comparison over time: every harvest takes one (cheap: a few thousand rows).
create table if not exists governance.md_snapshot (
    snapshot_id  bigserial primary key,
    taken_at     timestamptz not null default now(),
    taken_by     text not null,
    label        text,
    reason       text
);
create table if not exists governance.md_snapshot_field (
    snapshot_id  bigint not null references governance.md_snapshot on delete cascade,
    dataset      text not null,
    field        text not null,    -- '' records the dataset itself
    data_type    text,
    primary key (snapshot_id, dataset, field)
);
create table if not exists governance.md_snapshot_edge (
    snapshot_id    bigint not null references governance.md_snapshot on delete cascade,
    source_dataset text not null,
    source_field   text not null,
    target_dataset text not null,
    target_field   text not null,
    primary key (snapshot_id, source_dataset, source_field, target_dataset, target_field)
);

-- Every change to metadata: who, when, what (R4.5). Harvests write as the harvest's `by`
-- ('harvest' by default) with the origins harvested in `reason`, people as their login
-- (GOVLAKE_USER or the OS user); schema drift found at ingestion is recorded with its own
-- time (governance.schema_drift.detected_at) and the load task as changed_by; unmasked
-- reads of L3/L4 sample values as action 'read' by the principal who read them.
create table if not exists governance.md_change (
    change_id    bigserial primary key,
    changed_at   timestamptz not null default now(),
    changed_by   text not null,
    action       text not null,    -- added, updated, removed, drift, granted, revoked, read
    object_kind  text not null,    -- dataset, field, edge, owner, term, grant, sample
    object       text not null,    -- dataset, dataset.field, or an edge
                                   -- '<source>[.<field>] → <target>[.<field>]'
    before       jsonb,
    after        jsonb,
    reason       text
);
create index if not exists md_change_object on governance.md_change (object, changed_at);
create index if not exists md_change_time on governance.md_change (changed_at);
-- each governance.schema_drift row is recorded once: looked up by resource and batch
create index if not exists md_change_drift on governance.md_change
    ((after->>'resource_id'), (after->>'batch_id')) where action = 'drift';

-- Who may see sample values of which grades (metadata follows the data's permissions).
create table if not exists governance.md_grant (
    principal    text not null,
    dataset      text not null default '*',
    max_grade    text not null check (max_grade in ('L1', 'L2', 'L3', 'L4')),
    granted_by   text not null,
    granted_at   timestamptz not null default now(),
    primary key (principal, dataset)
);

-- How far the harvester has read each OpenLineage event log.
create table if not exists governance.md_harvest_offset (
    source       text primary key,
    byte_offset  bigint not null,
    updated_at   timestamptz not null default now()
);

-- Quality assertions reported on datasets through OpenLineage (DataQualityAssertions).
-- assertion: the assertion's name when the event gives one (a rule id), else its
-- classification (not_null, unique ...), which is always in `classification`.
create table if not exists governance.md_assertion (
    dataset      text not null,
    field        text not null default '',
    assertion    text not null,
    success      boolean not null,
    run_id       text not null,
    event_time   timestamptz not null,
    primary key (dataset, field, assertion, run_id)
);

-- What each origin saw, as it saw it: the harvesters' input to md_dataset/md_field. field ''
-- is the dataset itself. attrs holds the origin's attributes (kind, layer, names,
-- description, owner, data_type, data_element, grade ...). A full harvest of an origin
-- replaces its rows; OpenLineage rows are replaced per dataset by newer events; 'manual'
-- rows are written only by people (annotations, owners, datasets registered by hand) and
-- win over every harvested value.
create table if not exists governance.md_observation (
    origin       text not null,
    dataset      text not null,
    field        text not null default '',
    attrs        jsonb not null default '{}',
    seen_at      timestamptz not null default now(),
    primary key (origin, dataset, field)
);
create index if not exists md_observation_dataset on governance.md_observation (dataset);

-- Columns added after the first version of these tables, added only when missing (an
-- "add column if not exists" would lock the table on every start). Self-contained: this
-- file needs nothing but the governance schema.
do $$
declare
    wanted constant text[][] := array[
        ['md_field', 'grade_basis', 'text'],
        -- an OpenLineage transformation that masks the data (column lineage's `masking`)
        ['md_edge', 'masking', 'boolean'],
        ['md_assertion', 'classification', 'text'],
        ['md_assertion', 'severity', 'text'],
        ['md_assertion', 'description', 'text'],
        ['md_assertion', 'job', 'text']];
    i int;
begin
    for i in 1 .. array_length(wanted, 1) loop
        if not exists (
            select 1 from information_schema.columns
            where table_schema = 'governance' and table_name = wanted[i][1]
              and column_name = wanted[i][2]
        ) then
            execute format('alter table governance.%I add column %I %s',
                           wanted[i][1], wanted[i][2], wanted[i][3]);
        end if;
    end loop;
end $$;
