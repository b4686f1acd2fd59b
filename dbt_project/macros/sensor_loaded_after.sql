{#-
    The incremental sensor models recompute from the readings loaded since their previous
    run: this selects that moment (``loaded_after``), less the lookback var
    ``sensor_load_lookback`` (default 2 hours) for load transactions that committed after a
    later one; a full build takes every reading. The model's table carries
    ``last_loaded_at``, the newest ``_loaded_at`` it was built from.
-#}
{% macro sensor_loaded_after() -%}
    {%- set lookback = var('sensor_load_lookback', '2 hours') %}
    {%- if is_incremental() %}
        select
            coalesce(max(previous_run.last_loaded_at), cast('-infinity' as timestamptz))
            - interval '{{ lookback }}' as loaded_after
        from {{ this }} as previous_run
    {%- else %}
        select cast('-infinity' as timestamptz) as loaded_after
    {%- endif %}
{%- endmacro %}
