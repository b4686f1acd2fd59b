-- sensor.water_level_warning: one row per hydrology gauge and hour (Kaiping time) with at
-- least one reading. The hour's highest river (外江) level is judged against the gauge's
-- warning level (警戒水位) and guaranteed level (保证水位 — devices.yaml's "danger", the
-- 危险水位): above the guaranteed level 超保证水位, else above the warning level 超警戒水位,
-- else 正常. "Above" is strictly above, as flood bulletins count it (a level equal to the
-- warning level has reached it, 达到, not exceeded it). Also the first reading of the hour
-- above each level, the inner-river maximum, the hour's rainfall and pump faults.
--
-- Incremental: an hour depends only on its own readings; each run recomputes, per gauge,
-- every hour from the first hour holding a reading loaded since the previous run (less var
-- sensor_load_lookback).
{{
    config(
        unique_key='hour_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}


with

watermark as (

    {{ sensor_loaded_after() }}

),

changed as (

    -- per gauge, the first hour holding a new reading: it and every later hour are
    -- recomputed
    select
        stg.device_id,
        date_trunc('hour', min(stg.observed_at), 'Asia/Shanghai') as first_hour
    from {{ ref('stg_sensor__hydrology') }} as stg
    inner join watermark on stg._loaded_at > watermark.loaded_after
    group by stg.device_id

),

readings as (

    select
        stg.*,
        date_trunc('hour', stg.observed_at, 'Asia/Shanghai') as hour_start,
        max(stg.river_level) over (
            partition by stg.device_id, date_trunc('hour', stg.observed_at, 'Asia/Shanghai')
        ) as hour_max_river_level
    from {{ ref('stg_sensor__hydrology') }} as stg
    inner join changed
        on
            stg.device_id = changed.device_id
            and stg.observed_at >= changed.first_hour

),

hours as (

    select
        device_id,
        hour_start,
        max(device_name) as device_name,
        max(town_code) as town_code,
        max(town_name) as town_name,
        max(river) as river,
        max(warning_level) as warning_level,
        max(danger_level) as danger_level,
        count(*) as readings,
        count(river_level) as river_level_readings,
        max(river_level) as max_river_level,
        min(observed_at) filter (where river_level = hour_max_river_level) as max_river_level_at,
        min(observed_at) filter (where river_level > warning_level) as first_over_warning_at,
        min(observed_at) filter (where river_level > danger_level) as first_over_danger_at,
        max(inner_level) as max_inner_level,
        sum(cast(rainfall as numeric)) as rainfall_mm,
        coalesce(bool_or(pump_state = 2), false) as pump_fault,
        max(_loaded_at) as last_loaded_at
    from readings
    group by device_id, hour_start

),

final as (

    select
        device_id
        || '|'
        || to_char(hour_start at time zone 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24') as hour_key,
        device_id as gauge_id,
        device_name as gauge_name,
        town_code,
        town_name,
        river,
        hour_start,
        hour_start + interval '1 hour' as hour_end,
        cast(hour_start at time zone 'Asia/Shanghai' as date) as observed_date,
        cast(readings as integer) as readings,
        cast(river_level_readings as integer) as river_level_readings,
        cast(warning_level as numeric(6, 2)) as warning_level,
        cast(danger_level as numeric(6, 2)) as danger_level,
        max_river_level,
        max_river_level_at,
        case
            when max_river_level > danger_level then 2
            when max_river_level > warning_level then 1
            when max_river_level is not null then 0
        end as warning_state_code,
        case
            when max_river_level > danger_level then '超保证水位'
            when max_river_level > warning_level then '超警戒水位'
            when max_river_level is not null then '正常'
        end as warning_state,
        cast(case
            when max_river_level > warning_level
                then cast(max_river_level as numeric) - warning_level
        end as numeric(6, 3)) as above_warning_m,
        cast(case
            when max_river_level > danger_level
                then cast(max_river_level as numeric) - danger_level
        end as numeric(6, 3)) as above_danger_m,
        first_over_warning_at,
        first_over_danger_at,
        max_inner_level,
        cast(rainfall_mm as numeric(9, 3)) as rainfall_mm,
        pump_fault,
        last_loaded_at
    from hours

)

select * from final
