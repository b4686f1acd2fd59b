{#-
    The national identifier checks, written once in SQL by the standards work as
    functions in the `standards` schema (NULL when valid, else a reason in Chinese and
    English, the same text as govlake.standards.checks):

      standards.citizen_id_problem(text)  GB 11643 citizen identity number
      standards.uscc_problem(text)        GB 32100 unified social credit code
      standards.cn_mobile_problem(text)   mainland mobile number

    These wrappers only decide what a missing value means: nothing to judge, so the
    problem is NULL and the caller's is_valid_* flag (value present and no problem) is
    false. They never re-implement the algorithms.
-#}

{% macro citizen_id_problem(expression) -%}
    {{ return(adapter.dispatch('citizen_id_problem', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__citizen_id_problem(expression) -%}
    case when {{ expression }} is not null then standards.citizen_id_problem({{ expression }}) end
{%- endmacro %}

{% macro uscc_problem(expression) -%}
    {{ return(adapter.dispatch('uscc_problem', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__uscc_problem(expression) -%}
    case when {{ expression }} is not null then standards.uscc_problem({{ expression }}) end
{%- endmacro %}

{% macro cn_mobile_problem(expression) -%}
    {{ return(adapter.dispatch('cn_mobile_problem', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__cn_mobile_problem(expression) -%}
    case when {{ expression }} is not null then standards.cn_mobile_problem({{ expression }}) end
{%- endmacro %}

{#- The birth date (GB 11643 positions 7-14) and sex (position 17: odd male '1', even
    female '2', GB/T 2261.1) an identity number encodes; NULL unless the number passed
    its check (problem_column is the *_problem column computed with the macros above). -#}
{% macro id_number_birth_date(id_column, problem_column) -%}
    {{ return(adapter.dispatch('id_number_birth_date', 'kaiping')(id_column, problem_column)) }}
{%- endmacro %}

{% macro default__id_number_birth_date(id_column, problem_column) -%}
    case
        when {{ id_column }} is not null and {{ problem_column }} is null
            then to_date(substr({{ id_column }}, 7, 8), 'YYYYMMDD')
    end
{%- endmacro %}

{% macro id_number_sex_code(id_column, problem_column) -%}
    {{ return(adapter.dispatch('id_number_sex_code', 'kaiping')(id_column, problem_column)) }}
{%- endmacro %}

{% macro default__id_number_sex_code(id_column, problem_column) -%}
    case
        when {{ id_column }} is not null and {{ problem_column }} is null
            then case when cast(substr({{ id_column }}, 17, 1) as integer) % 2 = 1 then '1' else '2' end
    end
{%- endmacro %}
