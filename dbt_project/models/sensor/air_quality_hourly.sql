-- sensor.air_quality_hourly: one row per air quality station and hour (Kaiping time) with
-- at least one reading. HJ 633-2012 real-time report (实时报) from the station's minute
-- readings; validity by HJ 663-2013 / GB 3095-2012:
--   * a pollutant's 1-hour mean is valid with readings in >= 45 distinct minutes of the hour;
--   * the 8-hour moving mean of O3 (this hour and the 7 before) needs >= 6 valid 1-hour means;
--   * the 24-hour moving means of PM2.5, PM10 (AQI) and SO2 (Table 1 note 2) need >= 20;
--   * concentrations are rounded as published (GB/T 8170, half to even): μg/m³ to
--     integers, CO (mg/m³) to one decimal; moving means average the rounded 1-hour means.
-- IAQI by the iaqi macro (standards.iaqi: HJ 633-2012 Table 1, rounded up); AQI = the
-- largest IAQI; primary pollutants = those whose IAQI equals the AQI when AQI > 50, in
-- Table 1's order (so2, no2, pm10, co, o3, pm25).
--
-- Incremental: each run recomputes, per station, every hour from the first hour holding a
-- reading loaded since the previous run (less var sensor_load_lookback for load
-- transactions that committed late), reading 23 hours more for the moving means. A late
-- reading therefore also refreshes the moving means of the hours after it.
{{
    config(
        unique_key='hour_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}

{#- pollutant, decimals published (GB 3095-2012 / HJ 663-2013), Chinese label -#}
{%- set pollutants = aqi_pollutants() %}
{%- set moving_24h = ['pm25', 'pm10', 'so2'] %}

{#- GB/T 8170 rounding of a non-negative numeric {0} to {1} decimals: half to even
    (四舍六入五成双) — half_even.format(expression, decimals) -#}
{%- set half_even -%}
    case
        when ({0}) * power(10.0, {1}) - floor(({0}) * power(10.0, {1})) = 0.5
            then round(({0}) * power(10.0, {1}) / 2) * 2 / power(10.0, {1})
        else round({0}, {1})
    end
{%- endset %}

with

watermark as (

    {{ sensor_loaded_after() }}

),

changed as (

    -- per station, the first hour holding a new reading: it and every later hour are
    -- recomputed (a late reading also moves the moving means of the hours after it)
    select
        stg.device_id,
        date_trunc('hour', min(stg.observed_at), 'Asia/Shanghai') as first_hour
    from {{ ref('stg_sensor__air_quality') }} as stg
    inner join watermark on stg._loaded_at > watermark.loaded_after
    group by stg.device_id

),

readings as (

    select
        stg.device_id,
        stg.device_name,
        stg.town_code,
        stg.town_name,
        date_trunc('hour', stg.observed_at, 'Asia/Shanghai') as hour_start,
        date_trunc('minute', stg.observed_at) as observed_minute,
        {%- for p, _, _ in pollutants %}
            cast(stg.{{ p }} as numeric) as {{ p }},
        {%- endfor %}
        stg._loaded_at
    from {{ ref('stg_sensor__air_quality') }} as stg
    -- 23 hours before the first recomputed hour: the 24-hour moving means need them
    inner join changed
        on
            stg.device_id = changed.device_id
            and stg.observed_at >= changed.first_hour - interval '23 hours'

),

hours as (

    select
        device_id,
        hour_start,
        max(device_name) as device_name,
        max(town_code) as town_code,
        max(town_name) as town_name,
        count(*) as readings,
        count(distinct observed_minute) as minutes_reported,
        {%- for p, _, _ in pollutants %}
            count(distinct observed_minute) filter (where {{ p }} is not null) as {{ p }}_minutes,
            avg({{ p }}) as {{ p }}_mean,
        {%- endfor %}
        max(_loaded_at) as last_loaded_at
    from readings
    group by device_id, hour_start

),

valid_hours as (

    select
        {%- for p, digits, _ in pollutants %}
            case
                when hours.{{ p }}_minutes >= 45
                    then {{ half_even.format('hours.' ~ p ~ '_mean', digits) }}
            end as {{ p }}_1h,
        {%- endfor %}
        hours.*
    from hours

),

windows as (

    select
        count(valid_hours.o3_1h) over last_8_hours as o3_8h_hours,
        avg(valid_hours.o3_1h) over last_8_hours as o3_8h_mean,
        {%- for p in moving_24h %}
            count(valid_hours.{{ p }}_1h) over last_24_hours as {{ p }}_24h_hours,
            avg(valid_hours.{{ p }}_1h) over last_24_hours as {{ p }}_24h_mean,
        {%- endfor %}
        valid_hours.*
    from valid_hours
    window
        last_8_hours as (
            partition by valid_hours.device_id
            order by valid_hours.hour_start
            range between interval '7 hours' preceding and current row
        ),
        last_24_hours as (
            partition by valid_hours.device_id
            order by valid_hours.hour_start
            range between interval '23 hours' preceding and current row
        )

),

moving as (

    select
        case
            when windows.o3_8h_hours >= 6 then {{ half_even.format('windows.o3_8h_mean', 0) }}
        end as o3_8h,
        {%- for p in moving_24h %}
            case
                when windows.{{ p }}_24h_hours >= 20
                    then {{ half_even.format('windows.' ~ p ~ '_24h_mean', 0) }}
            end as {{ p }}_24h,
        {%- endfor %}
        windows.*
    from windows

),

indexed as (

    select
        moving.*,
        {{ iaqi('so2', 'moving.so2_1h', '1h', 'moving.so2_24h') }} as so2_iaqi,
        {{ iaqi('no2', 'moving.no2_1h', '1h') }} as no2_iaqi,
        {{ iaqi('pm10', 'moving.pm10_24h', '24h') }} as pm10_iaqi,
        {{ iaqi('co', 'moving.co_1h', '1h') }} as co_iaqi,
        {{ iaqi('o3', 'moving.o3_1h', '1h') }} as o3_1h_iaqi,
        {{ iaqi('o3', 'moving.o3_8h', '8h', 'moving.o3_1h') }} as o3_8h_iaqi,
        {{ iaqi('pm25', 'moving.pm25_24h', '24h') }} as pm25_iaqi
    from moving

),

scored as (

    select
        indexed.*,
        greatest(indexed.o3_1h_iaqi, indexed.o3_8h_iaqi) as o3_iaqi,
        greatest(
            indexed.so2_iaqi,
            indexed.no2_iaqi,
            indexed.pm10_iaqi,
            indexed.co_iaqi,
            indexed.o3_1h_iaqi,
            indexed.o3_8h_iaqi,
            indexed.pm25_iaqi
        ) as aqi
    from indexed

),

final as (

    select
        scored.device_id
        || '|'
        || to_char(scored.hour_start at time zone 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24') as hour_key,
        scored.device_id as station_id,
        scored.device_name as station_name,
        scored.town_code,
        scored.town_name,
        scored.hour_start,
        scored.hour_start + interval '1 hour' as hour_end,
        cast(scored.hour_start at time zone 'Asia/Shanghai' as date) as observed_date,
        cast(scored.readings as integer) as readings,
        cast(scored.minutes_reported as integer) as minutes_reported,
        cast(scored.minutes_reported / 60.0 as numeric(5, 4)) as completeness,
        (
            {%- for p, _, _ in pollutants %}
                scored.{{ p }}_1h is not null and
            {%- endfor %}
            true
        ) as is_complete_hour,
        {%- for p, digits, _ in pollutants %}
            cast(scored.{{ p }}_minutes as integer) as {{ p }}_minutes,
            cast(scored.{{ p }}_1h as numeric(8, {{ digits }})) as {{ p }}_1h,
        {%- endfor %}
        cast(scored.o3_8h as numeric(8, 0)) as o3_8h,
        cast(scored.o3_8h_hours as integer) as o3_8h_hours,
        {%- for p in moving_24h %}
            cast(scored.{{ p }}_24h as numeric(8, 0)) as {{ p }}_24h,
            cast(scored.{{ p }}_24h_hours as integer) as {{ p }}_24h_hours,
        {%- endfor %}
        scored.so2_iaqi,
        scored.no2_iaqi,
        scored.pm10_iaqi,
        scored.co_iaqi,
        scored.o3_1h_iaqi,
        scored.o3_8h_iaqi,
        scored.o3_iaqi,
        scored.pm25_iaqi,
        scored.aqi,
        {{ aqi_primary_pollutants('scored') }} as primary_pollutants,
        {{ aqi_primary_pollutants('scored', '、', chinese=true) }} as primary_pollutants_zh,
        {{ aqi_level('scored.aqi') }} as aqi_level,
        {{ aqi_category('scored.aqi') }} as aqi_category,
        scored.last_loaded_at
    from scored
    inner join changed
        on
            scored.device_id = changed.device_id
            and scored.hour_start >= changed.first_hour

)

select * from final
