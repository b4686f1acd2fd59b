-- The standard address library (标准地址): one row per standard address. Built from the
-- addresses of the departments that are authoritative for them (police register, market
-- registry, real-estate register) once parsed into town → village/community → road →
-- number (→ building / unit / room), plus one town-level address per town so that an
-- address known only to its town still has a standard address to point at.
with

persons as (

    select
        'police.person' as source_resource,
        address as source_address
    from {{ ref('stg_police__person') }}

),

enterprises as (

    select
        'market.enterprise' as source_resource,
        address as source_address
    from {{ ref('stg_market__enterprise') }}

),

properties as (

    select
        'natres.real_estate' as source_resource,
        address as source_address
    from {{ ref('stg_natres__real_estate') }}

),

towns as (

    select
        code,
        name
    from {{ ref('kp_town') }}

),

source_addresses as (

    select * from persons
    where source_address is not null
    union all
    select * from enterprises
    where source_address is not null
    union all
    select * from properties
    where source_address is not null

),

parsed as (

    {{ parse_address('source_addresses', 'source_address') }}

),

house_addresses as (

    select
        standard_address_text,
        parsed_town_code as town_code,
        locality_name,
        road_name,
        house_number,
        building_no,
        unit_no,
        room_no,
        count(*) as source_record_count,
        string_agg(distinct source_resource, ',' order by source_resource) as attested_by
    from parsed
    where is_complete
    group by
        standard_address_text,
        parsed_town_code,
        locality_name,
        road_name,
        house_number,
        building_no,
        unit_no,
        room_no

),

town_addresses as (

    select
        '开平市' || towns.name as standard_address_text,
        cast(towns.code as text) as town_code,
        cast(null as text) as locality_name,
        cast(null as text) as road_name,
        cast(null as text) as house_number,
        cast(null as text) as building_no,
        cast(null as text) as unit_no,
        cast(null as text) as room_no,
        0 as source_record_count,
        'kp_town' as attested_by
    from towns

),

all_addresses as (

    select
        'town' as address_level,
        town_addresses.*
    from town_addresses
    union all
    select
        case
            when room_no is not null then 'room'
            when unit_no is not null then 'unit'
            when building_no is not null then 'building'
            else 'house_number'
        end as address_level,
        house_addresses.*
    from house_addresses

),

final as (

    select
        cast(
            {{
                surrogate_key([
                    'all_addresses.town_code',
                    'all_addresses.locality_name',
                    'all_addresses.road_name',
                    'all_addresses.house_number',
                    'all_addresses.building_no',
                    'all_addresses.unit_no',
                    'all_addresses.room_no',
                ])
            }} as text
        ) as address_id,
        cast(all_addresses.address_level as text) as address_level,
        cast(all_addresses.standard_address_text as text) as standard_address,
        cast(all_addresses.town_code as text) as town_code,
        cast(towns.name as text) as town_name,
        cast(all_addresses.locality_name as text) as locality_name,
        cast(all_addresses.road_name as text) as road_name,
        cast(all_addresses.house_number as text) as house_number,
        cast(all_addresses.building_no as text) as building_no,
        cast(all_addresses.unit_no as text) as unit_no,
        cast(all_addresses.room_no as text) as room_no,
        cast(all_addresses.source_record_count as integer) as source_record_count,
        cast(all_addresses.attested_by as text) as attested_by
    from all_addresses
    inner join towns
        on all_addresses.town_code = cast(towns.code as text)

)

select * from final
