{#-
    thematic_expression_is_true: a generic data test (the idea of dbt_utils'
    expression_is_true, which cannot be installed here) — fails on every row of the model
    for which the SQL boolean expression is not true. Used by the thematic and special-topic
    libraries for their formulas (credit_score is the sum of its components, rates lie in
    [0, 1] ...).
-#}

{% test thematic_expression_is_true(model, expression, column_name=none) %}
    {{ return(adapter.dispatch('test_thematic_expression_is_true', 'kaiping')(model, expression, column_name)) }}
{% endtest %}

{% macro default__test_thematic_expression_is_true(model, expression, column_name) -%}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{%- endmacro %}
