-- One row per registered residence move (move_id), its latest version across batches.
with

source as (

    select * from {{ source('police', 'police__residence_move') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['move_id'],
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
        {{ clean_text('move_id') }} as move_id,
        {{ clean_identifier('id_number') }} as id_number,
        {{ clean_text('move_type') }} as move_type,
        {{ clean_text('from_address') }} as from_address,
        {{ clean_text('to_address') }} as to_address,
        {{ clean_text('to_town_code') }} as to_town_code_source_value,
        move_date,
        updated_at,
        _batch_id,
        _loaded_at
    from latest

),

checked as (

    select
        renamed.*,
        {{ citizen_id_problem('renamed.id_number') }} as id_number_problem,
        {{ kp_town_code('renamed.to_town_code_source_value') }} as to_town_code,
        {{ in_code_set('renamed.to_town_code_source_value', 'kp_town') }}
            as to_town_code_is_standard
    from renamed

),

final as (

    select
        move_id,
        id_number,
        id_number_problem,
        id_number is not null and id_number_problem is null as is_valid_id_number,
        move_type,
        from_address,
        to_address,
        to_town_code,
        to_town_code_source_value,
        to_town_code_is_standard,
        move_date,
        updated_at,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
