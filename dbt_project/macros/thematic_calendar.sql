{#-
    Calendar arithmetic of the thematic and special-topic libraries.

    * thematic_weekdays_through(d): how many Monday-to-Friday dates lie in
      [2001-01-01, d] (2001-01-01 was a Monday). Closed form, no generate_series:
      with k = d - 2001-01-01 + 1 days, weekdays = 5 * floor(k / 7) + least(k mod 7, 5).
      Negative k (dates before 2001) work too, because floor() rounds down.
    * thematic_working_days_between(a, b): working days (Mon-Fri) in (date a, date b]:
      the working days that passed from a's date to b's date, a's own date excluded and
      b's date included, whatever the times of day. A ticket taken on a Friday and
      closed the next Monday took 1 working day; one taken and closed on the same day
      took 0. This mirrors how the hotline sets its due time: "N working days after the
      call" lands on the date that is N working days later. Public holidays are not
      modelled (no official schedule of adjusted working days is kept in the platform).
    * thematic_month_start(ts) / thematic_iso_week(ts) / thematic_iso_week_start(ts):
      the month (first day, a date) and the ISO 8601 week ('2026-W45', Monday start) of a
      timestamp or date.
-#}

{% macro thematic_weekdays_through(date_expression) -%}
    {{ return(adapter.dispatch('thematic_weekdays_through', 'kaiping')(date_expression)) }}
{%- endmacro %}

{% macro default__thematic_weekdays_through(date_expression) -%}
    (
        5 * floor((cast({{ date_expression }} as date) - date '2001-01-01' + 1) / 7.0)::integer
        + least(
            (cast({{ date_expression }} as date) - date '2001-01-01' + 1)
            - 7 * floor((cast({{ date_expression }} as date) - date '2001-01-01' + 1) / 7.0)::integer,
            5
        )
    )
{%- endmacro %}

{% macro thematic_working_days_between(start_expression, end_expression) -%}
    {{ return(adapter.dispatch('thematic_working_days_between', 'kaiping')(start_expression, end_expression)) }}
{%- endmacro %}

{% macro default__thematic_working_days_between(start_expression, end_expression) -%}
    ({{ thematic_weekdays_through(end_expression) }} - {{ thematic_weekdays_through(start_expression) }})
{%- endmacro %}

{% macro thematic_month_start(expression) -%}
    {{ return(adapter.dispatch('thematic_month_start', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__thematic_month_start(expression) -%}
    cast(date_trunc('month', {{ expression }}) as date)
{%- endmacro %}

{% macro thematic_iso_week(expression) -%}
    {{ return(adapter.dispatch('thematic_iso_week', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__thematic_iso_week(expression) -%}
    to_char({{ expression }}, 'IYYY-"W"IW')
{%- endmacro %}

{% macro thematic_iso_week_start(expression) -%}
    {{ return(adapter.dispatch('thematic_iso_week_start', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__thematic_iso_week_start(expression) -%}
    cast(date_trunc('week', {{ expression }}) as date)
{%- endmacro %}
