-- One row per registered market entity (uscc), its latest version across batches.
with

source as (

    select * from {{ source('market', 'market__enterprise') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['uscc'],
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
        {{ clean_identifier('uscc') }} as uscc,
        {{ clean_text('name') }} as name,  -- noqa: RF04
        {{ clean_text('entity_type') }} as entity_type,
        {{ clean_text('legal_rep_name') }} as legal_rep_name,
        {{ clean_identifier('legal_rep_id_number') }} as legal_rep_id_number,
        {{ clean_identifier('industry_code') }} as industry_code,
        registered_capital,
        {{ clean_text('status') }} as registration_status,
        {{ clean_text('address') }} as address,
        {{ clean_text('town_code') }} as town_code_source_value,
        established_date,
        closed_date,
        -- schema drift: the registry added a website column (kept in _extra by the loader)
        {{ clean_text("_extra ->> 'website'") }} as website,
        updated_at,
        _batch_id,
        _loaded_at,
        {{ batch_date('_batch_id') }} as batch_date
    from latest

),

checked as (

    select
        renamed.*,
        {{ uscc_problem('renamed.uscc') }} as uscc_problem,
        {{ citizen_id_problem('renamed.legal_rep_id_number') }} as legal_rep_id_number_problem,
        {{ kp_town_code('renamed.town_code_source_value') }} as town_code,
        {{ in_code_set('renamed.town_code_source_value', 'kp_town') }} as town_code_is_standard
    from renamed

),

final as (

    select
        uscc,
        uscc_problem,
        uscc is not null and uscc_problem is null as is_valid_uscc,
        -- GB 32100 registration authority + organisation category (91 enterprise ...)
        left(uscc, 2) as uscc_org_type_code,
        name,
        entity_type,
        -- GB 32100 category of a market-regulation code: 1 企业, 2 个体工商户, 3 农民专业合作社
        case
            when entity_type = '个体工商户' then '个体工商户'
            when entity_type = '农民专业合作社' then '农民专业合作社'
            when entity_type is not null then '企业'
            when substr(uscc, 1, 2) = '92' then '个体工商户'
            when substr(uscc, 1, 2) = '93' then '农民专业合作社'
            when substr(uscc, 1, 2) = '91' then '企业'
        end as entity_category,
        legal_rep_name,
        legal_rep_id_number,
        legal_rep_id_number_problem,
        legal_rep_id_number is not null
        and legal_rep_id_number_problem is null as is_valid_legal_rep_id_number,
        industry_code,
        -- GB/T 4754-2017: section letter, then the 2-digit division (C3072 → C, 30)
        left(industry_code, 1) as industry_section_code,
        nullif(substr(industry_code, 2, 2), '') as industry_division_code,
        registered_capital,
        registration_status,
        registration_status in ('存续', '在业') as is_active,
        address,
        town_code,
        town_code_source_value,
        town_code_is_standard,
        established_date,
        coalesce(established_date > batch_date, false) as established_date_is_future,
        closed_date,
        website,
        updated_at,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
