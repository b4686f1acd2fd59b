{#-
    Trimming used by every staging model: leading/trailing white space (ASCII and the
    ideographic space U+3000) removed, runs of inner white space collapsed to one
    space, empty strings turned into NULL.
-#}

{% macro clean_text(expression) -%}
    {{ return(adapter.dispatch('clean_text', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__clean_text(expression) -%}
    nullif(
        regexp_replace(
            regexp_replace({{ expression }}, '^[[:space:]\u3000]+|[[:space:]\u3000]+$', '', 'g'),
            '[[:space:]\u3000]+', ' ', 'g'
        ),
        ''
    )
{%- endmacro %}

{#- Identifiers (ID numbers, USCCs): every white space removed, upper case (a trailing x
    check character is written X by the standard). -#}
{% macro clean_identifier(expression) -%}
    {{ return(adapter.dispatch('clean_identifier', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__clean_identifier(expression) -%}
    nullif(upper(regexp_replace({{ expression }}, '[[:space:]\u3000]+', '', 'g')), '')
{%- endmacro %}
