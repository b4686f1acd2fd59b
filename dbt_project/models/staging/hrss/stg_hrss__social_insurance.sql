-- One row per social-insurance enrolment (enrolment_id: person × employer × insurance
-- type), its latest version across batches.
with

source as (

    select * from {{ source('hrss', 'hrss__social_insurance') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['enrolment_id'],
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
        {{ clean_text('enrolment_id') }} as enrolment_id,
        {{ clean_identifier('id_number') }} as id_number,
        {{ clean_text('name') }} as name,  -- noqa: RF04
        {{ clean_identifier('uscc') }} as uscc,
        {{ clean_text('insurance_type') }} as insurance_type_code,
        start_date,
        end_date,
        contribution_base,
        {{ clean_text('status') }} as enrolment_status,
        updated_at,
        _batch_id,
        _loaded_at
    from latest

),

checked as (

    select
        renamed.*,
        {{ citizen_id_problem('renamed.id_number') }} as id_number_problem,
        {{ uscc_problem('renamed.uscc') }} as uscc_problem
    from renamed

),

final as (

    select
        enrolment_id,
        id_number,
        id_number_problem,
        id_number is not null and id_number_problem is null as is_valid_id_number,
        name,
        uscc,
        uscc_problem,
        uscc is not null and uscc_problem is null as is_valid_uscc,
        -- 灵活就业: self-enrolled, no employer
        uscc is null as is_flexible_employment,
        insurance_type_code,
        start_date,
        end_date,
        contribution_base,
        enrolment_status,
        enrolment_status = '参保缴费' as is_contributing,
        updated_at,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
