{#-
    The rows of a sensor raw table (raw.sensor__<kind>) — or, until the first batch of the
    kind is loaded and the table exists, an empty relation with the source's declared
    columns, so that the sensor libraries build on a fresh warehouse.
-#}
{% macro sensor_source(table_name) -%}
    {%- set raw_table = source('sensor', table_name) %}
    {%- if not execute or load_relation(raw_table) is not none %}
        select * from {{ raw_table }}
    {%- else %}
        {%- set source_id = 'source.' ~ project_name ~ '.sensor.' ~ raw_table.identifier %}
        {%- set source_node = graph.sources[source_id] %}
        select
            {%- for column in source_node.columns.values() %}
                cast(null as {{ column.data_type }}) as {{ column.name }},
            {%- endfor %}
            true as raw_table_missing
        where false
    {%- endif %}
{%- endmacro %}
