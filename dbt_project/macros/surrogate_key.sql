{#-
    A stable surrogate key: md5 over the fields' text, NULLs kept distinct from empty
    strings (the same idea as dbt_utils.generate_surrogate_key, which cannot be installed
    here).
-#}

{% macro surrogate_key(fields) -%}
    {{ return(adapter.dispatch('surrogate_key', 'kaiping')(fields)) }}
{%- endmacro %}

{% macro default__surrogate_key(fields) -%}
    md5(concat_ws('|'
    {%- for field in fields %},
        coalesce(cast({{ field }} as text), '_kp_null_')
    {%- endfor %}
    ))
{%- endmacro %}
