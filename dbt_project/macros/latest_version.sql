{#-
    Latest-version selection over raw batches.

    raw keeps every batch it was given: an incremental resource carries one row per
    record version (one per day the record changed), a full-snapshot resource one copy
    of every record per day. Staging keeps the current version only:

    * latest_version: per key, the version with the newest source timestamp, then the
      newest batch, then the last row of that batch (a record delivered twice in one
      file keeps its later line);
    * latest_snapshot: the rows of the newest batch only (a record missing from today's
      snapshot is gone from the source, so it is gone from staging too), one per key.

    Both return a select over the CTE or relation named, with every column kept and a
    helper column _version_rank (always 1) that callers leave out of their final select.
-#}

{% macro latest_version(relation, key_columns, order_by) -%}
    {{ return(adapter.dispatch('latest_version', 'kaiping')(relation, key_columns, order_by)) }}
{%- endmacro %}

{% macro default__latest_version(relation, key_columns, order_by) -%}
    select ranked.*
    from (
        select
            versions.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by {{ order_by | join(', ') }}
            ) as _version_rank
        from {{ relation }} as versions
    ) as ranked
    where ranked._version_rank = 1
{%- endmacro %}

{% macro latest_snapshot(relation, key_columns) -%}
    {{ return(adapter.dispatch('latest_snapshot', 'kaiping')(relation, key_columns)) }}
{%- endmacro %}

{% macro default__latest_snapshot(relation, key_columns) -%}
    select ranked.*
    from (
        select
            snapshot_rows.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by snapshot_rows._source_row desc
            ) as _version_rank
        from {{ relation }} as snapshot_rows
        where snapshot_rows._batch_id = (select max(all_rows._batch_id) from {{ relation }} as all_rows)
    ) as ranked
    where ranked._version_rank = 1
{%- endmacro %}

{#- The business date a batch delivers: batch ids start with it (20261101-incr). -#}
{% macro batch_date(batch_id_column) -%}
    {{ return(adapter.dispatch('batch_date', 'kaiping')(batch_id_column)) }}
{%- endmacro %}

{% macro default__batch_date(batch_id_column) -%}
    to_date(left({{ batch_id_column }}, 8), 'YYYYMMDD')
{%- endmacro %}
