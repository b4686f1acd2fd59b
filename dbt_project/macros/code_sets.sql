{#-
    Mapping departmental codes to the standard code sets (seeds in schema `standards`).

    * in_code_set(expr, 'kp_town'): whether the value is itself a code of the code set
      (NULL when there is no value: nothing to judge).
    * kp_town_code(expr): the kp_town code of a town given by code or by name, for the
      departments that have no mapping table of their own.
    * mapped_code(expr, 'police__sex'): the standard code of a departmental value through
      the standards work's mapping table (include/standards/mappings/).
-#}

{% macro in_code_set(expression, code_set) -%}
    {{ return(adapter.dispatch('in_code_set', 'kaiping')(expression, code_set)) }}
{%- endmacro %}

{% macro default__in_code_set(expression, code_set) -%}
    {{ expression }} in (select cast(code_set_codes.code as text) from {{ ref(code_set) }} as code_set_codes)
{%- endmacro %}

{% macro kp_town_code(expression) -%}
    {{ return(adapter.dispatch('kp_town_code', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__kp_town_code(expression) -%}
    (
        select cast(towns.code as text)
        from {{ ref('kp_town') }} as towns
        where cast(towns.code as text) = {{ expression }} or towns.name = {{ expression }}
        order by cast(towns.code as text) = {{ expression }} desc
        limit 1
    )
{%- endmacro %}

{#- A departmental code through the standards work's mapping table for that department
    and field (seed <department>__<field>: local_code, standard_code, code_set), e.g.
    police__sex maps 男 / M / 1 to GB/T 2261.1 code 1. NULL when the mapping does not
    know the value (the staging tests warn about such values). -#}
{% macro mapped_code(expression, mapping) -%}
    {{ return(adapter.dispatch('mapped_code', 'kaiping')(expression, mapping)) }}
{%- endmacro %}

{% macro default__mapped_code(expression, mapping) -%}
    (
        select cast(code_mapping.standard_code as text)
        from {{ ref(mapping) }} as code_mapping
        where cast(code_mapping.local_code as text) = {{ expression }}
        limit 1
    )
{%- endmacro %}
