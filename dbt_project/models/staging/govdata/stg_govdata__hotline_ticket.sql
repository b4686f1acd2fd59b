-- One row per 12345 hotline ticket (ticket_id), its latest version across batches.
with

source as (

    select * from {{ source('govdata', 'govdata__hotline_ticket') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['ticket_id'],
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
        {{ clean_text('ticket_id') }} as ticket_id,
        created_at,
        {{ clean_text('category') }} as category,
        {{ clean_text('content') }} as content,  -- noqa: RF04
        {{ clean_identifier('caller_phone') }} as caller_phone,
        {{ clean_text('town_code') }} as town_code_source_value,
        {{ clean_text('address') }} as address,
        {{ clean_text('handling_department') }} as handling_department,
        {{ clean_text('status') }} as ticket_status,
        due_at,
        closed_at,
        satisfaction,
        updated_at,
        _batch_id,
        _loaded_at
    from latest

),

checked as (

    select
        renamed.*,
        {{ cn_mobile_problem('renamed.caller_phone') }} as caller_phone_problem,
        {{ kp_town_code('renamed.town_code_source_value') }} as town_code,
        {{ in_code_set('renamed.town_code_source_value', 'kp_town') }} as town_code_is_standard
    from renamed

),

final as (

    select
        ticket_id,
        created_at,
        category,
        content,
        caller_phone,
        caller_phone_problem,
        town_code,
        town_code_source_value,
        town_code_is_standard,
        address,
        handling_department,
        ticket_status,
        ticket_status = '已办结' as is_closed,
        due_at,
        closed_at,
        satisfaction,
        updated_at,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
