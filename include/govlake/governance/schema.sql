-- The governance schema: the platform's own records. Idempotent: applied on every start.
create schema if not exists governance;
create schema if not exists raw;

create table if not exists governance.department (
    code        text primary key,
    name_zh     text not null,
    name_en     text not null
);

create table if not exists governance.system (
    code        text primary key,
    department  text not null references governance.department (code),
    name_zh     text not null,
    name_en     text not null,
    kind        text not null,
    connection  text
);

create table if not exists governance.data_element (
    id          text primary key,
    name_zh     text not null,
    name_en     text not null,
    type        text not null,
    sensitivity text not null,
    code_set    text,
    pattern     text,
    check_algorithm text
);

create table if not exists governance.resource (
    resource_id      text primary key,
    department       text not null references governance.department (code),
    code             text not null,
    name_zh          text not null,
    name_en          text not null,
    description      text,
    system           text not null references governance.system (code),
    owner            text not null,
    sharing_type     text not null check (sharing_type in ('无条件共享', '有条件共享', '不予共享')),
    open_type        text not null check (open_type in ('无条件开放', '有条件开放', '不予开放')),
    update_frequency text not null,
    extract_mode     text not null,
    raw_table        text not null,
    dag_id           text not null,
    catalog_file     text not null,
    synced_at        timestamptz not null default now()
);

create table if not exists governance.resource_field (
    resource_id   text not null references governance.resource (resource_id) on delete cascade,
    position      int  not null,
    name          text not null,
    data_element  text not null references governance.data_element (id),
    type          text not null,
    required      boolean not null,
    authoritative boolean not null,
    sensitivity   text not null,
    code_set      text,
    primary key (resource_id, name)
);

-- One row per landed batch; the check constraints are the reconciliation.
create table if not exists governance.batch (
    resource_id         text not null,
    batch_id            text not null,
    ingest_date         date not null,
    mode                text not null,
    window_start        timestamp,
    window_end          timestamp not null,
    object_prefix       text not null,
    source_rows         bigint not null,
    landed_rows         bigint not null,
    extract_quarantined bigint not null,
    loaded_rows         bigint,
    load_quarantined    bigint,
    state               text not null check (state in ('landed', 'loaded', 'failed')),
    watermark_max       text,
    extract_seconds     double precision,
    load_seconds        double precision,
    landed_at           timestamptz not null default now(),
    loaded_at           timestamptz,
    message             text,
    primary key (resource_id, batch_id),
    constraint landed_reconciles check (source_rows = landed_rows + extract_quarantined),
    constraint loaded_reconciles check (
        state <> 'loaded' or landed_rows = loaded_rows + load_quarantined)
);

create table if not exists governance.quarantine (
    resource_id  text not null,
    batch_id     text not null,
    stage        text not null check (stage in ('extract', 'load', 'stream')),
    source_file  text,
    source_row   bigint,
    field        text,
    reason       text not null,
    record       jsonb,
    quarantined_at timestamptz not null default now()
);
create index if not exists quarantine_batch on governance.quarantine (resource_id, batch_id);
-- 'stream' (messages refused by the sensor consumer) came after the first release: widen
-- the check where it predates it (only then: altering takes an exclusive lock)
do $$
begin
    if exists (
        select 1 from pg_constraint
        where conrelid = 'governance.quarantine'::regclass and conname = 'quarantine_stage_check'
          and pg_get_constraintdef(oid) not like '%stream%'
    ) then
        alter table governance.quarantine drop constraint quarantine_stage_check,
            add constraint quarantine_stage_check check (stage in ('extract', 'load', 'stream'));
    end if;
end $$;

create table if not exists governance.schema_drift (
    resource_id  text not null,
    batch_id     text not null,
    source_file  text,
    column_name  text not null,
    change       text not null check (change in ('added', 'missing')),
    detected_at  timestamptz not null default now(),
    primary key (resource_id, batch_id, column_name, change)
);

create table if not exists governance.watermark (
    resource_id  text primary key,
    column_name  text,
    high_value   text,
    batch_id     text not null,
    updated_at   timestamptz not null default now()
);

-- ---------------------------------------------------------------------------------------
-- Quality auditing (GB/T 36344 dimensions). Rules mirror the GX suites in expectations/.
-- Columns added to existing tables are added only when missing: "add column if not
-- exists" would take an exclusive lock on every start, queueing behind (and blocking)
-- every reader, such as staging views reading governance.batch.
create or replace function governance.add_column_if_missing(
    table_name text, column_name text, definition text
) returns void language plpgsql as $$
begin
    if not exists (
        select 1 from information_schema.columns c
        where c.table_schema = 'governance' and c.table_name = add_column_if_missing.table_name
          and c.column_name = add_column_if_missing.column_name
    ) then
        execute format('alter table governance.%I add column %I %s',
                       add_column_if_missing.table_name, add_column_if_missing.column_name,
                       definition);
    end if;
end $$;
select governance.add_column_if_missing(
    'batch', 'audit_state', 'text check (audit_state in (''passed'', ''warned'', ''blocked''))');
select governance.add_column_if_missing('batch', 'audit_run_id', 'text');

create table if not exists governance.quality_rule (
    rule_id          text primary key,
    suite            text not null,
    table_name       text not null,
    resource_id      text,
    department       text not null,
    column_name      text,
    template         text not null,
    dimension        text not null check (dimension in ('normativity', 'completeness',
                         'accuracy', 'consistency', 'timeliness', 'accessibility')),
    severity         text not null check (severity in ('blocking', 'warning')),
    stage            text not null check (stage in ('batch', 'library')),
    origin           text not null check (origin in ('generated', 'configured')),
    expectation_type text not null,
    kwargs           jsonb not null,
    description_zh   text not null,
    description_en   text not null,
    synced_at        timestamptz not null default now()
);

create table if not exists governance.quality_run (
    run_id          text primary key,
    suite           text not null,
    table_name      text not null,
    resource_id     text,
    batch_id        text,
    trigger         text not null check (trigger in ('batch', 'libraries', 'schedule', 'manual')),
    business_date   date not null,
    started_at      timestamptz not null,
    finished_at     timestamptz,
    rows_audited    bigint,
    rules           int,
    rules_failed    int,
    blocking_failed int,
    success         boolean,
    gx_result_id    text,
    data_docs       text,
    message         text
);
create index if not exists quality_run_table on governance.quality_run (table_name, business_date);
-- batch: a raw batch's own rules; library: a table's rules after a build (and a raw
-- table's delivery): scores take the latest run per table and stage
select governance.add_column_if_missing(
    'quality_run', 'stage', 'text check (stage in (''batch'', ''library''))');

create table if not exists governance.quality_result (
    run_id       text not null references governance.quality_run (run_id) on delete cascade,
    rule_id      text not null,
    suite        text not null,
    table_name   text not null,
    department   text not null,
    column_name  text,
    template     text not null,
    dimension    text not null,
    severity     text not null,
    evaluated    bigint not null,
    failed       bigint not null,
    success      boolean not null,
    observed     jsonb,
    sample       jsonb,        -- failing values; masked when the column is graded L3/L4
    error        text,
    primary key (run_id, rule_id),
    constraint failed_within_evaluated check (failed >= 0 and failed <= greatest(evaluated, 1))
);
create index if not exists quality_result_rule on governance.quality_result (rule_id);

-- The failing records of a run (capped per rule): the list a department fixes.
create table if not exists governance.quality_failure (
    run_id   text not null references governance.quality_run (run_id) on delete cascade,
    rule_id  text not null,
    row_key  jsonb not null,   -- the failing row's primary key
    value    text              -- the failing value, masked when sensitive
);
create index if not exists quality_failure_rule on governance.quality_failure (run_id, rule_id);

-- Scores per business day (formula: docs/quality.md). scope: overall | department | table;
-- dimension: one of the six, or 'all' for the scope's combined score.
create table if not exists governance.quality_score (
    business_date date not null,
    scope         text not null check (scope in ('overall', 'department', 'table')),
    scope_key     text not null,       -- '*' | department code | schema.table
    dimension     text not null,
    score         numeric(5, 2) not null check (score between 0 and 100),
    rules         int not null,
    rules_failed  int not null,
    evaluated     bigint not null,
    failed        bigint not null,
    computed_at   timestamptz not null default now(),
    primary key (business_date, scope, scope_key, dimension)
);

-- Work orders (问题工单): one per rule and table, however often the rule fails.
create table if not exists governance.work_order (
    work_order_id  bigint generated always as identity primary key,
    rule_id        text not null,
    table_name     text not null,
    resource_id    text,
    department     text not null,      -- the owning department (catalog)
    assignee       text,               -- a person or unit within it
    dimension      text not null,
    severity       text not null check (severity in ('blocking', 'warning')),
    state          text not null check (state in ('open', 'in_progress', 'resolved',
                       'verified', 'closed', 'reopened')),
    title          text not null,
    opened_at      timestamptz not null default now(),
    due_at         timestamptz not null,
    first_run_id   text not null,
    last_run_id    text not null,
    last_failed    bigint not null,
    last_seen_at   timestamptz not null default now(),
    resolved_at    timestamptz,
    verified_at    timestamptz,
    closed_at      timestamptz,
    reopen_count   int not null default 0,
    unique (rule_id, table_name)
);

create table if not exists governance.work_order_event (
    work_order_id  bigint not null references governance.work_order (work_order_id)
                       on delete cascade,
    at             timestamptz not null default now(),
    actor          text not null,      -- a user, or 'system' for audit-driven changes
    kind           text not null check (kind in ('opened', 'failed_again', 'passed',
                       'assigned', 'state', 'comment')),
    from_state     text,
    to_state       text,
    run_id         text,
    comment        text
);
-- event_id orders the events of one transaction (they share now())
select governance.add_column_if_missing(
    'work_order_event', 'event_id', 'bigint generated always as identity');
create index if not exists work_order_event_order on governance.work_order_event (work_order_id, at);
