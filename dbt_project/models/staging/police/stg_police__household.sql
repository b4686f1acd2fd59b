-- One row per registered household (household_no), its latest version across batches.
with

source as (

    select * from {{ source('police', 'police__household') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['household_no'],
            [
                'updated_at desc nulls last',
                '_batch_id desc',
                '_source_row desc'
            ]
        )
    }}

),

renamed as (

    select
        {{ clean_text('household_no') }} as household_no,
        {{ clean_identifier('head_id_number') }} as head_id_number,
        {{ clean_text('household_type') }} as household_type,
        {{ clean_text('address') }} as address,
        {{ clean_text('town_code') }} as town_code_source_value,
        created_date,
        updated_at,
        _batch_id,
        _loaded_at
    from latest

),

checked as (

    select
        renamed.*,
        {{ citizen_id_problem('renamed.head_id_number') }} as head_id_number_problem,
        {{ kp_town_code('renamed.town_code_source_value') }} as town_code,
        {{ in_code_set('renamed.town_code_source_value', 'kp_town') }} as town_code_is_standard
    from renamed

),

final as (

    select
        household_no,
        head_id_number,
        head_id_number_problem,
        head_id_number is not null and head_id_number_problem is null as is_valid_head_id_number,
        household_type,
        address,
        town_code,
        town_code_source_value,
        town_code_is_standard,
        created_date,
        updated_at,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
