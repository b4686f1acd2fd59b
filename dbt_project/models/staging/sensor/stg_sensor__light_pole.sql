-- One row per smart light pole reading (msg_id, the primary key of raw.sensor__light_pole),
-- with the pole's town and reporting interval. Readings outside a metric's valid range
-- were quarantined by the stream consumer; the energy counter may still go backwards (a
-- reset), which sensor.light_pole_energy_daily handles. Until the first batch of the kind
-- is loaded the raw table does not exist and this view is empty.

with

source as (

    {{ sensor_source('sensor__light_pole') }}

),

devices as (

    select * from {{ ref('stg_sensor__device') }}
    where kind = 'light_pole'

),

final as (

    select
        source.msg_id,
        source.device_id,
        devices.device_name,
        devices.town_code,
        devices.town_name,
        devices.interval_seconds,
        source.seq,
        source.observed_at,
        source.received_at,
        source.lamp_state,
        source.power,
        source.energy,
        source._batch_id,
        source._loaded_at
    from source
    left join devices on source.device_id = devices.device_id

)

select * from final
