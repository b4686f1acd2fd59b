-- The sensor stream's own governance tables. Idempotent: applied by govlake.stream at
-- every start of a consumer and before every load (after governance/schema.sql).

-- One row per micro-batch and kind: the batch's commit record. A batch whose manifest
-- exists in the object store but has no row here was written by a consumer that died
-- before committing: it is an orphan, never loaded, removed at that consumer's next start.
create table if not exists governance.stream_batch (
    kind              text not null,
    batch_id          text not null,
    client_id         text not null,
    ingest_date       date not null,
    object_prefix     text not null,
    manifest_key      text not null,
    received          bigint not null,
    landed            bigint not null,
    duplicates        bigint not null,
    quarantined       bigint not null,
    alerts            bigint not null default 0,
    first_received_at timestamptz,
    last_received_at  timestamptz,
    min_observed_at   timestamptz,
    max_observed_at   timestamptz,
    committed_at      timestamptz not null default now(),
    state             text not null default 'landed' check (state in ('landed', 'loaded')),
    loaded_rows       bigint,
    load_conflicts    bigint,
    loaded_at         timestamptz,
    primary key (kind, batch_id),
    constraint stream_received_reconciles check (received = landed + duplicates + quarantined),
    constraint stream_loaded_reconciles check (
        state <> 'loaded' or landed = loaded_rows + load_conflicts)
);
create index if not exists stream_batch_pending on governance.stream_batch (state, committed_at);

-- The deduplication record: every message key already committed. Landed readings are
-- keyed by msg_id; quarantined messages by 'q:' + the SHA-256 of topic and payload (a
-- malformed message may have no msg_id, and a corrected resend of a refused one must
-- still land). Pruned after the retention the consumer is given.
create table if not exists governance.stream_message (
    msg_key      text primary key,
    kind         text not null,
    device_id    text,
    outcome      text not null check (outcome in ('landed', 'quarantined')),
    batch_id     text not null,
    observed_at  timestamptz,
    committed_at timestamptz not null default now()
);
create index if not exists stream_message_committed on governance.stream_message (committed_at);

-- The real-time checks' sliding state, committed with each micro-batch (one per consumer).
create table if not exists governance.stream_check_state (
    client_id   text primary key,
    state       jsonb not null,
    batch_id    text not null,
    updated_at  timestamptz not null default now()
);

-- Alerts of the real-time checks (range, rate_of_change, stuck, offline).
create table if not exists governance.sensor_alert (
    alert_id    bigint generated always as identity primary key,
    device_id   text not null,
    kind        text not null,
    metric      text,
    check_name  text not null check (check_name in ('range', 'rate_of_change', 'stuck',
                    'offline')),
    value       double precision,
    observed_at timestamptz not null,
    msg_id      text,
    message_zh  text not null,
    message_en  text not null,
    batch_id    text not null,
    raised_at   timestamptz not null default now()
);
-- one alert per device, metric, check and reading time, however often it is computed
create unique index if not exists sensor_alert_once on governance.sensor_alert
    (device_id, coalesce(metric, ''), check_name, observed_at);
create index if not exists sensor_alert_time on governance.sensor_alert (observed_at);
