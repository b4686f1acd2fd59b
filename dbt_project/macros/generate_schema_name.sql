{#- Models land in the schema their folder names (staging, basic, thematic, special),
    not in "<target>_<schema>": the libraries have fixed, documented homes. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ adapter.dispatch('generate_schema_name', 'kaiping')(custom_schema_name, node) }}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
