-- One row per low-income assistance recipient (recipient_id) in the newest daily
-- snapshot: civil affairs drops the full list every day, so a recipient missing from
-- the newest file is no longer on it.
with

source as (

    select * from {{ source('civil', 'civil__low_income') }}

),

latest as (

    {{ latest_snapshot('source', ['recipient_id']) }}

),

renamed as (

    select
        {{ clean_text('recipient_id') }} as recipient_id,
        {{ clean_text('name') }} as name,  -- noqa: RF04
        {{ clean_identifier('id_number') }} as id_number,
        {{ clean_text('town_code') }} as town_code_source_value,
        {{ clean_text('category') }} as assistance_category,
        household_size,
        monthly_amount,
        start_date,
        {{ clean_text('status') }} as assistance_status,
        -- schema drift: the file gained a disability_grade column (kept in _extra)
        {{ clean_text("_extra ->> 'disability_grade'") }} as disability_grade,
        _batch_id,
        _loaded_at,
        {{ batch_date('_batch_id') }} as batch_date
    from latest

),

checked as (

    select
        renamed.*,
        {{ citizen_id_problem('renamed.id_number') }} as id_number_problem,
        {{ mapped_code('renamed.town_code_source_value', 'civil__town_code') }} as town_code,
        {{ in_code_set('renamed.town_code_source_value', 'kp_town') }} as town_code_is_standard
    from renamed

),

final as (

    select
        recipient_id,
        name,
        id_number,
        id_number_problem,
        id_number is not null and id_number_problem is null as is_valid_id_number,
        town_code,
        town_code_source_value,
        town_code_is_standard,
        assistance_category,
        household_size,
        monthly_amount,
        start_date,
        coalesce(start_date > batch_date, false) as start_date_is_future,
        assistance_status,
        assistance_status = '在保' as is_receiving,
        disability_grade,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
