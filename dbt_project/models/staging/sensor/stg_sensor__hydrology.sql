-- One row per hydrology gauge reading (msg_id, the primary key of raw.sensor__hydrology),
-- with the gauge's town, river and its warning and guaranteed (danger) levels. Readings
-- outside a metric's valid range were quarantined by the stream consumer. Until the first
-- batch of the kind is loaded the raw table does not exist and this view is empty.

with

source as (

    {{ sensor_source('sensor__hydrology') }}

),

devices as (

    select * from {{ ref('stg_sensor__device') }}
    where kind = 'hydrology'

),

final as (

    select
        source.msg_id,
        source.device_id,
        devices.device_name,
        devices.town_code,
        devices.town_name,
        devices.river,
        devices.warning_level,
        devices.danger_level,
        source.seq,
        source.observed_at,
        source.received_at,
        source.river_level,
        source.inner_level,
        source.rainfall,
        source.pump_state,
        source.gate_state,
        source._batch_id,
        source._loaded_at
    from source
    left join devices on source.device_id = devices.device_id

)

select * from final
