-- sensor.air_quality_daily: one row per air quality station and Kaiping calendar day with
-- at least one hourly row. HJ 633-2012 daily report (日报) from sensor.air_quality_hourly's
-- valid 1-hour means; validity by HJ 663-2013 / GB 3095-2012:
--   * a 24-hour mean (SO2, NO2, PM10, CO, PM2.5) needs >= 20 valid 1-hour means of the day;
--   * O3's daily maximum 8-hour mean is the largest of the day's 8-hour moving means ending
--     at 08:00 ... 24:00 (the windows whose last hour starts 07:00 ... 23:00), each needing
--     >= 6 valid 1-hour means, and needs >= 14 valid such means;
--   * O3's daily maximum 1-hour mean needs >= 20 valid 1-hour means (our reading);
--   * rounded as published (GB/T 8170, half to even): μg/m³ integers, CO one decimal.
-- IAQI of the 24-hour limits, O3 of its 8-hour (Table 1 note 3: above 800 μg/m³ the 1-hour
-- maximum's) and 1-hour indicators; AQI = the largest; primary pollutants when AQI > 50.
--
-- Incremental: a day depends only on its own hours, so each run recomputes the station-days
-- holding an hourly row refreshed since the previous run (less var sensor_load_lookback).
{{
    config(
        unique_key='day_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}

{%- set pollutants = aqi_pollutants() %}
{%- set daily_24h = ['so2', 'no2', 'pm10', 'co', 'pm25'] %}

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

    -- the station-days holding an hourly row refreshed since the previous run
    select distinct
        hourly.station_id,
        hourly.observed_date
    from {{ ref('air_quality_hourly') }} as hourly
    inner join watermark on hourly.last_loaded_at > watermark.loaded_after

),

hours as (

    select
        hourly.station_id,
        hourly.station_name,
        hourly.town_code,
        hourly.town_name,
        hourly.observed_date,
        hourly.readings,
        hourly.last_loaded_at,
        {%- for p, _, _ in pollutants %}
            hourly.{{ p }}_1h,
        {%- endfor %}
        cast(extract(hour from hourly.hour_start at time zone 'Asia/Shanghai') as integer)
            as hour_of_day
    from {{ ref('air_quality_hourly') }} as hourly
    inner join changed
        on
            hourly.station_id = changed.station_id
            and hourly.observed_date = changed.observed_date

),

station_days as (

    select distinct
        station_id,
        observed_date
    from hours

),

o3_windows as (

    select
        station_days.station_id,
        station_days.observed_date,
        window_end.end_hour,
        count(hours.o3_1h) as valid_hours,
        avg(hours.o3_1h) as o3_mean
    from station_days
    cross join generate_series(7, 23) as window_end (end_hour)
    left join hours
        on
            station_days.station_id = hours.station_id
            and station_days.observed_date = hours.observed_date
            and hours.hour_of_day between window_end.end_hour - 7 and window_end.end_hour
    group by station_days.station_id, station_days.observed_date, window_end.end_hour

),

o3_8h as (

    select
        station_id,
        observed_date,
        count(*) filter (where valid_hours >= 6) as o3_8h_windows,
        max({{ half_even.format('o3_mean', 0) }}) filter (where valid_hours >= 6) as o3_8h_max
    from o3_windows
    group by station_id, observed_date

),

days as (

    select
        station_id,
        observed_date,
        max(station_name) as station_name,
        max(town_code) as town_code,
        max(town_name) as town_name,
        count(*) as hours_reported,
        sum(readings) as readings,
        {%- for p, _, _ in pollutants %}
            count({{ p }}_1h) as {{ p }}_hours,
            avg({{ p }}_1h) as {{ p }}_mean,
        {%- endfor %}
        max(o3_1h) as o3_1h_max,
        max(last_loaded_at) as last_loaded_at
    from hours
    group by station_id, observed_date

),

averaged as (

    select
        days.*,
        o3_8h.o3_8h_windows,
        {%- for p in daily_24h %}
            {%- set digits = 1 if p == 'co' else 0 %}
            case
                when days.{{ p }}_hours >= 20
                    then {{ half_even.format('days.' ~ p ~ '_mean', digits) }}
            end as {{ p }}_24h,
        {%- endfor %}
        case when days.o3_hours >= 20 then days.o3_1h_max end as o3_1h_max_valid,
        case when o3_8h.o3_8h_windows >= 14 then o3_8h.o3_8h_max end as o3_8h_max_valid
    from days
    inner join o3_8h
        on
            days.station_id = o3_8h.station_id
            and days.observed_date = o3_8h.observed_date

),

indexed as (

    select
        averaged.*,
        {{ iaqi('so2', 'averaged.so2_24h', '24h') }} as so2_iaqi,
        {{ iaqi('no2', 'averaged.no2_24h', '24h') }} as no2_iaqi,
        {{ iaqi('pm10', 'averaged.pm10_24h', '24h') }} as pm10_iaqi,
        {{ iaqi('co', 'averaged.co_24h', '24h') }} as co_iaqi,
        {{ iaqi('o3', 'averaged.o3_8h_max_valid', '8h', 'averaged.o3_1h_max_valid') }}
            as o3_8h_iaqi,
        {{ iaqi('o3', 'averaged.o3_1h_max_valid', '1h') }} as o3_1h_iaqi,
        {{ iaqi('pm25', 'averaged.pm25_24h', '24h') }} as pm25_iaqi
    from averaged

),

scored as (

    select
        indexed.*,
        greatest(indexed.o3_8h_iaqi, indexed.o3_1h_iaqi) as o3_iaqi,
        greatest(
            indexed.so2_iaqi,
            indexed.no2_iaqi,
            indexed.pm10_iaqi,
            indexed.co_iaqi,
            indexed.o3_8h_iaqi,
            indexed.o3_1h_iaqi,
            indexed.pm25_iaqi
        ) as aqi
    from indexed

),

final as (

    select
        scored.station_id || '|' || to_char(scored.observed_date, 'YYYY-MM-DD') as day_key,
        scored.station_id,
        scored.station_name,
        scored.town_code,
        scored.town_name,
        scored.observed_date,
        cast(scored.hours_reported as integer) as hours_reported,
        cast(scored.readings as integer) as readings,
        {%- for p in daily_24h %}
            cast(scored.{{ p }}_hours as integer) as {{ p }}_hours,
            cast(scored.{{ p }}_24h as numeric(8, {{ 1 if p == 'co' else 0 }})) as {{ p }}_24h,
        {%- endfor %}
        cast(scored.o3_hours as integer) as o3_hours,
        cast(scored.o3_1h_max_valid as numeric(8, 0)) as o3_1h_max,
        cast(scored.o3_8h_windows as integer) as o3_8h_windows,
        cast(scored.o3_8h_max_valid as numeric(8, 0)) as o3_8h_max,
        scored.so2_iaqi,
        scored.no2_iaqi,
        scored.pm10_iaqi,
        scored.co_iaqi,
        scored.o3_8h_iaqi,
        scored.o3_1h_iaqi,
        scored.o3_iaqi,
        scored.pm25_iaqi,
        scored.aqi,
        {{ aqi_primary_pollutants('scored') }} as primary_pollutants,
        {{ aqi_primary_pollutants('scored', '、', chinese=true) }} as primary_pollutants_zh,
        {{ aqi_level('scored.aqi') }} as aqi_level,
        {{ aqi_category('scored.aqi') }} as aqi_category,
        scored.last_loaded_at
    from scored

)

select * from final
