-- 二标四实: one row per standard address (basic.standard_address, town-level addresses
-- included) with the four actuals (四实) found at it through basic.address_match:
--
--   actual_population   persons of the population library living there (person_status
--                       正常), placed by their police-register address
--   households          registered households (police) at the address
--   houses              real-estate title certificates for residential use (住宅)
--   facilities          real-estate title certificates for non-residential premises
--                       (商业/办公/工业 ...): shops, offices, workshops
--   units               market entities registered there and existing (存续/在业)
--
-- A source address readable only down to its town is counted at the town's standard
-- address (address_level 'town'); one that matches no town is not counted.
with

addresses as (

    select * from {{ ref('standard_address') }}

),

matches as (

    select
        source_resource,
        source_record_id,
        standard_address_id,
        match_confidence
    from {{ ref('address_match') }}
    where standard_address_id is not null

),

population as (

    select
        standard_address_id,
        count(*) as actual_population
    from {{ ref('population') }}
    where person_status = '正常' and standard_address_id is not null
    group by standard_address_id

),

households as (

    select
        matches.standard_address_id,
        count(*) as households
    from matches
    where matches.source_resource = 'police.household'
    group by matches.standard_address_id

),

properties as (

    select
        matches.standard_address_id,
        count(*) filter (where real_estate.usage = '住宅') as houses,
        count(*) filter (where real_estate.usage is distinct from '住宅') as facilities,
        sum(real_estate.floor_area) filter (where real_estate.usage = '住宅') as house_floor_area,
        sum(real_estate.floor_area) filter (where real_estate.usage is distinct from '住宅')
            as facility_floor_area
    from matches
    inner join {{ ref('stg_natres__real_estate') }} as real_estate
        on matches.source_record_id = real_estate.certificate_no
    where matches.source_resource = 'natres.real_estate'
    group by matches.standard_address_id

),

units as (

    select
        standard_address_id,
        count(*) as units
    from {{ ref('legal_entity') }}
    where is_active and standard_address_id is not null
    group by standard_address_id

),

final as (

    select
        addresses.address_id as standard_address_id,
        addresses.address_level,
        addresses.standard_address,
        addresses.town_code,
        addresses.town_name,
        addresses.locality_name,
        addresses.road_name,
        addresses.house_number,
        cast(coalesce(population.actual_population, 0) as integer) as actual_population,
        cast(coalesce(households.households, 0) as integer) as households,
        cast(coalesce(properties.houses, 0) as integer) as houses,
        cast(coalesce(properties.facilities, 0) as integer) as facilities,
        cast(coalesce(units.units, 0) as integer) as units,
        cast(coalesce(properties.house_floor_area, 0) as numeric(14, 2)) as house_floor_area,
        cast(coalesce(properties.facility_floor_area, 0) as numeric(14, 2)) as facility_floor_area
    from addresses
    left join population on addresses.address_id = population.standard_address_id
    left join households on addresses.address_id = households.standard_address_id
    left join properties on addresses.address_id = properties.standard_address_id
    left join units on addresses.address_id = units.standard_address_id

)

select * from final
