-- One row per sensing device of the fleet: the seed sensor_device, which `govlake dbt sync`
-- generates from include/catalog/devices.yaml (the one register of devices).
with

source as (

    select * from {{ ref('sensor_device') }}

),

final as (

    select
        device_id,
        kind,
        name_zh as device_name,
        town_code,
        town_name,
        longitude,
        latitude,
        install_date,
        owner as owner_department,
        river,
        warning_level,
        danger_level,
        interval_seconds
    from source

)

select * from final
