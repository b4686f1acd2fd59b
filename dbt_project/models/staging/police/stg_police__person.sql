-- One row per registered person record (person_id), its latest version across batches.
-- A person registered twice (two person_ids, one id_number) keeps both rows here;
-- basic.population fuses them.
with

source as (

    select * from {{ source('police', 'police__person') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['person_id'],
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
        {{ clean_text('person_id') }} as person_id,
        {{ clean_identifier('id_number') }} as id_number,
        {{ clean_text('name') }} as name,  -- noqa: RF04
        {{ clean_text('sex') }} as sex_source_value,
        birth_date,
        {{ clean_text('ethnicity') }} as ethnicity_code,
        {{ clean_text('marital_status') }} as marital_status_code,
        {{ clean_text('household_no') }} as household_no,
        {{ clean_text('relation_to_head') }} as relation_to_head_code,
        {{ clean_text('address') }} as address,
        {{ clean_text('town_code') }} as town_code_source_value,
        {{ clean_identifier('phone') }} as phone,
        {{ clean_text('status') }} as person_status,
        death_date,
        updated_at,
        _batch_id,
        _loaded_at,
        {{ batch_date('_batch_id') }} as batch_date
    from latest

),

checked as (

    select
        renamed.*,
        {{ citizen_id_problem('renamed.id_number') }} as id_number_problem,
        {{ mapped_code('renamed.sex_source_value', 'police__sex') }} as sex_code,
        {{ in_code_set('renamed.sex_source_value', 'gbt_2261_1') }} as sex_code_is_standard,
        {{ kp_town_code('renamed.town_code_source_value') }} as town_code,
        {{ in_code_set('renamed.town_code_source_value', 'kp_town') }} as town_code_is_standard,
        {{ cn_mobile_problem('renamed.phone') }} as phone_problem
    from renamed

),

final as (

    select
        person_id,
        id_number,
        id_number_problem,
        id_number is not null and id_number_problem is null as is_valid_id_number,
        name,
        sex_code,
        sex_source_value,
        sex_code_is_standard,
        birth_date,
        coalesce(birth_date > batch_date, false) as birth_date_is_future,
        birth_date
        = {{ id_number_birth_date('id_number', 'id_number_problem') }}
            as birth_date_matches_id_number,
        ethnicity_code,
        marital_status_code,
        household_no,
        relation_to_head_code,
        address,
        town_code,
        town_code_source_value,
        town_code_is_standard,
        phone,
        phone_problem,
        person_status,
        death_date,
        updated_at,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
