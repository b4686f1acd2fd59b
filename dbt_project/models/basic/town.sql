-- Kaiping's 15 towns and subdistricts (kp_town code set) with their centroid
-- coordinates and their town-level standard address: one row per town.
with

towns as (

    select * from {{ ref('kp_town') }}

),

town_addresses as (

    select
        address_id,
        town_code
    from {{ ref('standard_address') }}
    where address_level = 'town'

),

final as (

    select
        cast(towns.code as text) as town_code,
        cast(towns.name as text) as town_name,
        cast(towns.name_en as text) as town_name_en,
        cast(towns.kind as text) as town_kind,
        cast(towns.longitude as numeric(9, 4)) as longitude,
        cast(towns.latitude as numeric(9, 4)) as latitude,
        cast(town_addresses.address_id as text) as standard_address_id
    from towns
    left join town_addresses
        on cast(towns.code as text) = town_addresses.town_code

)

select * from final
