-- One row per air quality reading (msg_id, the primary key of raw.sensor__air_quality, so
-- no reading is there twice), with its station and town. Readings outside a metric's valid
-- range never get here: the stream consumer quarantined them. Until the first batch of
-- the kind is loaded the raw table does not exist and this view is empty.

with

source as (

    {{ sensor_source('sensor__air_quality') }}

),

devices as (

    select * from {{ ref('stg_sensor__device') }}
    where kind = 'air_quality'

),

final as (

    select
        source.msg_id,
        source.device_id,
        devices.device_name,
        devices.town_code,
        devices.town_name,
        source.seq,
        source.observed_at,
        source.received_at,
        source.pm25,
        source.pm10,
        source.so2,
        source.no2,
        source.co,
        source.o3,
        source.temperature,
        source.humidity,
        source.pressure,
        source.wind_speed,
        source.wind_direction,
        source.rainfall,
        source.noise,
        source._batch_id,
        source._loaded_at
    from source
    left join devices on source.device_id = devices.device_id

)

select * from final
