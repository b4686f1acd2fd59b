-- The electronic-licence library (电子证照基础库): one row per licence, linked to its
-- holder — a person of the population library (by identity number) or an entity of the
-- legal-entity library (by USCC) — with its validity as of the business date:
--   revoked  the issuing authority cancelled (注销) or revoked (吊销) it
--   expired  still 有效 in the source, but valid_until lies before the business date
--   valid    otherwise (valid_until NULL: no end)
-- The business date is the var `business_date` when given, else the date of the newest
-- licence batch.
{%- set business_date = var('business_date', none) %}
with

licences as (

    select * from {{ ref('stg_govdata__e_licence') }}

),

persons as (

    select id_number from {{ ref('population') }}

),

legal_entities as (

    select uscc from {{ ref('legal_entity') }}

),

as_of as (

    select
        coalesce(
            cast({{ "'" ~ business_date ~ "'" if business_date else 'null' }} as date),
            max({{ batch_date('licences._batch_id') }})
        ) as business_date
    from licences

),

linked as (

    select
        licences.*,
        as_of.business_date,
        case
            when licences.holder_type = '个人' then persons.id_number is not null
            when licences.holder_type = '单位' then legal_entities.uscc is not null
        end as holder_is_registered
    from licences
    cross join as_of
    left join persons
        on licences.holder_id_number = persons.id_number
    left join legal_entities
        on licences.holder_uscc = legal_entities.uscc

),

final as (

    select
        cast(licence_no as text) as licence_no,
        cast(licence_type as text) as licence_type,
        cast(issuer as text) as issuer,
        cast(holder_type as text) as holder_type,
        cast(holder_id as text) as holder_id,
        cast(holder_id_problem as text) as holder_id_problem,
        cast(is_valid_holder_id as boolean) as is_valid_holder_id,
        cast(holder_id_number as text) as holder_id_number,
        cast(holder_uscc as text) as holder_uscc,
        cast(holder_name as text) as holder_name,
        cast(holder_is_registered as boolean) as holder_is_registered,
        cast(issue_date as date) as issue_date,
        cast(issue_date_is_future as boolean) as issue_date_is_future,
        cast(valid_until as date) as valid_until,
        cast(licence_status as text) as licence_status,
        cast(
            case
                when licence_status in ('注销', '吊销') then 'revoked'
                when valid_until < business_date then 'expired'
                else 'valid'
            end as text
        ) as validity,
        cast(business_date as date) as as_of_date,
        cast(_batch_id as text) as _batch_id,
        cast(_loaded_at as timestamptz) as _loaded_at
    from linked

)

select * from final
