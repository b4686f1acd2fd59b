-- One row per overseas-Chinese roster entry (roster_id) in the newest daily snapshot
-- (the roster workbook is dropped whole every day).
with

source as (

    select * from {{ source('overseas', 'overseas__overseas_chinese') }}

),

latest as (

    {{ latest_snapshot('source', ['roster_id']) }}

),

renamed as (

    select
        {{ clean_text('roster_id') }} as roster_id,
        {{ clean_text('name') }} as name,  -- noqa: RF04
        {{ clean_text('sex') }} as sex_source_value,
        {{ clean_identifier('id_number') }} as id_number,
        {{ clean_text('category') }} as overseas_category,
        {{ clean_text('country') }} as country,
        {{ clean_text('overseas_address') }} as overseas_address,
        {{ clean_text('hometown_town_code') }} as hometown_town_code_source_value,
        {{ clean_text('relative_name') }} as relative_name,
        {{ clean_identifier('relative_phone') }} as relative_phone,
        registered_date,
        _batch_id,
        _loaded_at,
        {{ batch_date('_batch_id') }} as batch_date
    from latest

),

checked as (

    select
        renamed.*,
        {{ citizen_id_problem('renamed.id_number') }} as id_number_problem,
        {{ mapped_code('renamed.sex_source_value', 'overseas__sex') }} as sex_code,
        {{ in_code_set('renamed.sex_source_value', 'gbt_2261_1') }} as sex_code_is_standard,
        {{ kp_town_code('renamed.hometown_town_code_source_value') }} as hometown_town_code,
        {{ in_code_set('renamed.hometown_town_code_source_value', 'kp_town') }}
            as hometown_town_code_is_standard,
        {{ cn_mobile_problem('renamed.relative_phone') }} as relative_phone_problem
    from renamed

),

duplicates as (

    select
        checked.*,
        -- an entry keyed in twice: same person, category, country and registration date
        min(checked.roster_id) over (
            partition by
                checked.name,
                coalesce(checked.id_number, ''),
                checked.overseas_category,
                checked.country,
                checked.registered_date
        ) as first_roster_id
    from checked

),

final as (

    select
        roster_id,
        name,
        sex_code,
        sex_source_value,
        sex_code_is_standard,
        id_number,
        id_number_problem,
        id_number is not null and id_number_problem is null as is_valid_id_number,
        overseas_category,
        country,
        overseas_address,
        hometown_town_code,
        hometown_town_code_source_value,
        hometown_town_code_is_standard,
        relative_name,
        relative_phone,
        relative_phone_problem,
        registered_date,
        coalesce(registered_date > batch_date, false) as registered_date_is_future,
        case when first_roster_id <> roster_id then first_roster_id end as possible_duplicate_of,
        _batch_id,
        _loaded_at
    from duplicates

)

select * from final
