-- Every source address matched to one standard address: one row per source record that
-- carries an address (person, household, enterprise, real-estate certificate, hotline
-- ticket), with the confidence of the match:
--   exact       the source text is the standard address, character for character
--   normalised  the same address once white space, full-width digits and the province /
--               city prefix are normalised away
--   town_only   the address cannot be read down to its number, or is not in the library:
--               matched to its town's standard address (the town named in the text, else
--               the record's own town code)
--   unmatched   not even a Kaiping town is known (standard_address_id is NULL)
with

persons as (

    select
        'police.person' as source_resource,
        person_id as source_record_id,
        address as source_address,
        town_code as source_town_code
    from {{ ref('stg_police__person') }}

),

households as (

    select
        'police.household' as source_resource,
        household_no as source_record_id,
        address as source_address,
        town_code as source_town_code
    from {{ ref('stg_police__household') }}

),

enterprises as (

    select
        'market.enterprise' as source_resource,
        uscc as source_record_id,
        address as source_address,
        town_code as source_town_code
    from {{ ref('stg_market__enterprise') }}

),

properties as (

    select
        'natres.real_estate' as source_resource,
        certificate_no as source_record_id,
        address as source_address,
        town_code as source_town_code
    from {{ ref('stg_natres__real_estate') }}

),

tickets as (

    select
        'govdata.hotline_ticket' as source_resource,
        ticket_id as source_record_id,
        address as source_address,
        town_code as source_town_code
    from {{ ref('stg_govdata__hotline_ticket') }}

),

standard_addresses as (

    select
        address_id,
        address_level,
        standard_address,
        town_code
    from {{ ref('standard_address') }}

),

source_addresses as (

    select * from persons
    where source_address is not null
    union all
    select * from households
    where source_address is not null
    union all
    select * from enterprises
    where source_address is not null
    union all
    select * from properties
    where source_address is not null
    union all
    select * from tickets
    where source_address is not null

),

parsed as (

    {{ parse_address('source_addresses', 'source_address') }}

),

matched as (

    select
        parsed.*,
        full_match.address_id as full_match_address_id,
        town_match.address_id as town_address_id
    from parsed
    left join standard_addresses as full_match
        on
            parsed.is_complete
            and parsed.standard_address_text = full_match.standard_address
    left join standard_addresses as town_match
        on
            town_match.address_level = 'town'
            and town_match.town_code = coalesce(parsed.parsed_town_code, parsed.source_town_code)

),

final as (

    select
        cast({{ surrogate_key(['source_resource', 'source_record_id']) }} as text)
            as address_match_id,
        cast(source_resource as text) as source_resource,
        cast(source_record_id as text) as source_record_id,
        cast(source_address as text) as source_address,
        cast(source_town_code as text) as source_town_code,
        cast(coalesce(full_match_address_id, town_address_id) as text) as standard_address_id,
        cast(
            case
                when
                    full_match_address_id is not null and source_address = standard_address_text
                    then 'exact'
                when full_match_address_id is not null then 'normalised'
                when town_address_id is not null then 'town_only'
                else 'unmatched'
            end as text
        ) as match_confidence,
        cast(parsed_town_code as text) as parsed_town_code,
        cast(locality_name as text) as locality_name,
        cast(road_name as text) as road_name,
        cast(house_number as text) as house_number,
        cast(building_no as text) as building_no,
        cast(unit_no as text) as unit_no,
        cast(room_no as text) as room_no,
        cast(nullif(unparsed_remainder, '') as text) as unparsed_remainder
    from matched

)

select * from final
