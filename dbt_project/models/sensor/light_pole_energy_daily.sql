-- sensor.light_pole_energy_daily: one row per town and Kaiping calendar day with at least
-- one light pole reading.
--   * energy: from each pole's cumulative counter (kWh), the sum of its increments between
--     consecutive readings, each counted on the day of the later reading (so the interval
--     across midnight is not lost; with no reset this is the day's max - min plus that
--     interval). A counter lower than the reading before is a reset (meter replaced or
--     restarted from 0): the increment is the new reading itself. An increment over a gap
--     of more than a day (the pole was silent) is not attributed to any day.
--   * lamp-hours: readings with the lamp on × the pole's reporting interval;
--   * poles reporting: poles with a reading that day; poles in fault: with lamp state 2.
--
-- Incremental: each run recomputes, per town, every day from the first day holding a
-- reading loaded since the previous run (less var sensor_load_lookback), reading one day
-- more for the increments across midnight.
{{
    config(
        unique_key='day_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}


with

watermark as (

    {{ sensor_loaded_after() }}

),

changed as (

    -- per town, the first day holding a new reading: it and every later day are recomputed
    select
        stg.town_code,
        min(cast(stg.observed_at at time zone 'Asia/Shanghai' as date)) as first_date
    from {{ ref('stg_sensor__light_pole') }} as stg
    inner join watermark on stg._loaded_at > watermark.loaded_after
    group by stg.town_code

),

readings as (

    select
        stg.device_id,
        stg.town_code,
        stg.town_name,
        stg.interval_seconds,
        stg.observed_at,
        stg.lamp_state,
        stg._loaded_at,
        cast(stg.energy as numeric) as energy,
        cast(stg.observed_at at time zone 'Asia/Shanghai' as date) as observed_date
    from {{ ref('stg_sensor__light_pole') }} as stg
    -- a day before the first recomputed day: its increments across midnight need it
    inner join changed
        on
            stg.town_code = changed.town_code
            and stg.observed_at
            >= cast(changed.first_date - 1 as timestamp) at time zone 'Asia/Shanghai'

),

energy_steps as (

    select
        device_id,
        observed_date,
        observed_at,
        energy,
        lag(energy) over pole_readings as previous_energy,
        lag(observed_at) over pole_readings as previous_at
    from readings
    where energy is not null
    window pole_readings as (partition by device_id order by observed_at)

),

pole_energy as (

    select
        device_id,
        observed_date,
        sum(
            case
                when previous_at is null or previous_at < observed_at - interval '1 day' then 0
                when energy >= previous_energy then energy - previous_energy
                else energy
            end
        ) as energy_kwh,
        count(*) filter (
            where previous_at >= observed_at - interval '1 day' and energy < previous_energy
        ) as counter_resets
    from energy_steps
    group by device_id, observed_date

),

pole_days as (

    select
        device_id,
        observed_date,
        max(town_code) as town_code,
        max(town_name) as town_name,
        count(*) as readings,
        count(*) filter (where lamp_state = 1) * max(interval_seconds) / 3600.0 as lamp_on_hours,
        coalesce(bool_or(lamp_state = 2), false) as in_fault,
        max(_loaded_at) as last_loaded_at
    from readings
    group by device_id, observed_date

),

registered as (

    select
        town_code,
        count(*) as poles_registered
    from {{ ref('stg_sensor__device') }}
    where kind = 'light_pole'
    group by town_code

),

town_days as (

    select
        pole_days.town_code,
        pole_days.observed_date,
        max(pole_days.town_name) as town_name,
        count(*) as poles_reporting,
        count(*) filter (where pole_days.in_fault) as poles_in_fault,
        sum(pole_days.readings) as readings,
        sum(pole_days.lamp_on_hours) as lamp_on_hours,
        coalesce(sum(pole_energy.energy_kwh), 0) as energy_kwh,
        coalesce(sum(pole_energy.counter_resets), 0) as counter_resets,
        max(pole_days.last_loaded_at) as last_loaded_at
    from pole_days
    left join pole_energy
        on
            pole_days.device_id = pole_energy.device_id
            and pole_days.observed_date = pole_energy.observed_date
    group by pole_days.town_code, pole_days.observed_date

),

final as (

    select
        town_days.town_code || '|' || to_char(town_days.observed_date, 'YYYY-MM-DD') as day_key,
        town_days.town_code,
        town_days.town_name,
        town_days.observed_date,
        cast(coalesce(registered.poles_registered, 0) as integer) as poles_registered,
        cast(town_days.poles_reporting as integer) as poles_reporting,
        cast(town_days.poles_in_fault as integer) as poles_in_fault,
        cast(town_days.readings as integer) as readings,
        cast(town_days.energy_kwh as numeric(12, 3)) as energy_kwh,
        cast(town_days.counter_resets as integer) as counter_resets,
        cast(town_days.lamp_on_hours as numeric(10, 2)) as lamp_on_hours,
        town_days.last_loaded_at
    from town_days
    inner join changed
        on
            town_days.town_code = changed.town_code
            and town_days.observed_date >= changed.first_date
    left join registered on town_days.town_code = registered.town_code

)

select * from final
