-- The legal-entity library (法人基础库): one row per unified social credit code of a
-- market entity registered in Kaiping (enterprises, individual businesses, farmers'
-- cooperatives). The market registry is authoritative for every attribute; the status
-- history across batches is in legal_entity_status_history.
with

enterprises as (

    select * from {{ ref('stg_market__enterprise') }}

),

status_spells as (

    select
        uscc,
        count(*) as status_spell_count
    from {{ ref('legal_entity_status_history') }}
    group by uscc

),

enterprise_address_matches as (

    select
        source_record_id,
        standard_address_id
    from {{ ref('address_match') }}
    where source_resource = 'market.enterprise'

),

final as (

    select
        cast(enterprises.uscc as text) as uscc,
        cast(enterprises.uscc_problem as text) as uscc_problem,
        cast(enterprises.is_valid_uscc as boolean) as is_valid_uscc,
        cast(enterprises.name as text) as name,  -- noqa: RF04
        cast(enterprises.entity_type as text) as entity_type,
        cast(enterprises.entity_category as text) as entity_category,
        cast(enterprises.legal_rep_name as text) as legal_rep_name,
        cast(enterprises.legal_rep_id_number as text) as legal_rep_id_number,
        cast(enterprises.is_valid_legal_rep_id_number as boolean) as is_valid_legal_rep_id_number,
        cast(enterprises.industry_code as text) as industry_code,
        cast(enterprises.industry_section_code as text) as industry_section_code,
        cast(enterprises.industry_division_code as text) as industry_division_code,
        cast(enterprises.registered_capital as numeric) as registered_capital,
        cast(enterprises.registration_status as text) as registration_status,
        cast(enterprises.is_active as boolean) as is_active,
        cast(enterprises.address as text) as address,
        cast(enterprise_address_matches.standard_address_id as text) as standard_address_id,
        cast(enterprises.town_code as text) as town_code,
        cast(enterprises.established_date as date) as established_date,
        cast(enterprises.established_date_is_future as boolean) as established_date_is_future,
        cast(enterprises.closed_date as date) as closed_date,
        cast(enterprises.website as text) as website,
        cast(coalesce(status_spells.status_spell_count, 0) as integer) as status_spell_count,
        cast(enterprises.updated_at as timestamp) as updated_at,
        cast(enterprises._batch_id as text) as _batch_id,
        cast(enterprises._loaded_at as timestamptz) as _loaded_at
    from enterprises
    left join status_spells
        on enterprises.uscc = status_spells.uscc
    left join enterprise_address_matches
        on enterprises.uscc = enterprise_address_matches.source_record_id

)

select * from final
