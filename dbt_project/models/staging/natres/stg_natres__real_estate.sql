-- One row per real-estate title certificate (certificate_no), its latest version across
-- batches (the daily JSON Lines drop carries the certificates registered or changed that
-- day and no timestamp: the newest batch wins).
with

source as (

    select * from {{ source('natres', 'natres__real_estate') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['certificate_no'],
            [
                '_batch_id desc',
                '_source_row desc'
            ]
        )
    }}

),

renamed as (

    select
        {{ clean_text('certificate_no') }} as certificate_no,
        {{ clean_text('owner_type') }} as owner_type,
        {{ clean_identifier('owner_id') }} as owner_id,
        {{ clean_text('owner_name') }} as owner_name,
        {{ clean_text('address') }} as address,
        {{ clean_text('town_code') }} as town_code_source_value,
        floor_area,
        {{ clean_text('usage') }} as usage,  -- noqa: RF04
        registered_date,
        _batch_id,
        _loaded_at,
        {{ batch_date('_batch_id') }} as batch_date
    from latest

),

checked as (

    select
        renamed.*,
        case
            when renamed.owner_type = '单位' then {{ uscc_problem('renamed.owner_id') }}
            else {{ citizen_id_problem('renamed.owner_id') }}
        end as owner_id_problem,
        {{ kp_town_code('renamed.town_code_source_value') }} as town_code,
        {{ in_code_set('renamed.town_code_source_value', 'kp_town') }} as town_code_is_standard
    from renamed

),

final as (

    select
        certificate_no,
        owner_type,
        owner_id,
        owner_id_problem,
        owner_id is not null and owner_id_problem is null as is_valid_owner_id,
        case when owner_type = '个人' then owner_id end as owner_id_number,
        case when owner_type = '单位' then owner_id end as owner_uscc,
        owner_name,
        address,
        town_code,
        town_code_source_value,
        town_code_is_standard,
        floor_area,
        usage,
        registered_date,
        coalesce(registered_date > batch_date, false) as registered_date_is_future,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
