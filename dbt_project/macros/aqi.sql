{#-
    The air quality index of HJ 633-2012, written once in SQL as functions in the
    `standards` schema (include/govlake/standards/sql/aqi_functions.sql) that read Table 1
    from the seed hj_633_2012_iaqi — the same CSV govlake.sensors.aqi reads:

      iaqi('pm25', 'pm25_24h', '24h')          IAQI of a column, rounded up (integer)
      iaqi('so2', 'so2_1h', '1h', 'so2_24h')   with Table 1 note 2: SO2 1h above 800 μg/m³
                                               is reported by the IAQI of the 24h average
      iaqi('o3', 'o3_8h', '8h', 'o3_1h')       note 3: O3 8h above 800 → the 1h average
      aqi_level('aqi') / aqi_category('aqi')   Table 2: 1..6 / 优 … 严重污染

    pollutant: so2 | no2 | pm10 | co | o3 | pm25; period: 1h | 8h | 24h (the function
    raises for any other pair); concentrations in μg/m³, CO in mg/m³. The AQI of a row is
    greatest() of its IAQIs (greatest skips NULLs). These wrappers only decide what a missing
    or invalid reading means: nothing to judge, so NULL — a negative concentration is for
    the quality checks, not an error that stops the build. They never re-implement Table 1.
    The ref() makes every model using them depend on the seed, so dbt builds it first.
-#}

{% macro iaqi(pollutant, expression, period, fallback=none) -%}
    {{ return(adapter.dispatch('iaqi', 'kaiping')(pollutant, expression, period, fallback)) }}
{%- endmacro %}

{% macro default__iaqi(pollutant, expression, period, fallback) -%}
    case when {{ expression }} >= 0 then standards.iaqi(
        '{{ pollutant }}', '{{ period }}', cast({{ expression }} as numeric)
        {%- if fallback is not none %},
        case when {{ fallback }} >= 0 then cast({{ fallback }} as numeric) end
        {%- endif %}
    ) end /* breakpoints: {{ ref('hj_633_2012_iaqi') }} */
{%- endmacro %}

{% macro aqi_level(expression) -%}
    {{ return(adapter.dispatch('aqi_level', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__aqi_level(expression) -%}
    standards.aqi_level(cast({{ expression }} as integer))
{%- endmacro %}

{% macro aqi_category(expression) -%}
    {{ return(adapter.dispatch('aqi_category', 'kaiping')(expression)) }}
{%- endmacro %}

{% macro default__aqi_category(expression) -%}
    standards.aqi_category(cast({{ expression }} as integer))
{%- endmacro %}

{#- HJ 633-2012 Table 1's pollutants in its order: (code, decimals published, Chinese name). -#}
{% macro aqi_pollutants() -%}
    {{ return([
        ('so2', 0, '二氧化硫（SO2）'),
        ('no2', 0, '二氧化氮（NO2）'),
        ('pm10', 0, '可吸入颗粒物（PM10）'),
        ('co', 1, '一氧化碳（CO）'),
        ('o3', 0, '臭氧（O3）'),
        ('pm25', 0, '细颗粒物（PM2.5）'),
    ]) }}
{%- endmacro %}

{#- The primary pollutant(s): those whose IAQI is the AQI, when the AQI is above 50, in
    Table 1's order, joined by `separator`; codes, or Chinese names with `chinese=true`.
    `relation` holds <code>_iaqi columns and aqi. -#}
{% macro aqi_primary_pollutants(relation, separator=',', chinese=false) -%}
    nullif(concat_ws(
        '{{ separator }}',
        {%- for p, _, label in aqi_pollutants() %}
            case
                when {{ relation }}.aqi > 50 and {{ relation }}.{{ p }}_iaqi = {{ relation }}.aqi
                    then '{{ label if chinese else p }}'
            end,
        {%- endfor %}
        null
    ), '')
{%- endmacro %}
