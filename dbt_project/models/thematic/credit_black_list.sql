-- One row per legal entity on the credit black list (失信惩戒名单), joined to the entity
-- and to its legal representative as a person of the population library. An entity is
-- listed when at least one rule holds (all that hold are given):
--
--   revoked   its business licence was revoked (registration_status 吊销); its legal
--             representative may not serve as one for three years from the revocation
--             (《公司法》): legal_rep_restricted_until = closed_date + 3 years
--   zombie    registered as existing but no tax and no social insurance for 12 months
--             (zombie_enterprise: stopped operating without deregistering)
--   grade_d   existing entity whose credit score is below 60 (credit_rating grade D)
with

ratings as (

    select * from {{ ref('credit_rating') }}

),

entities as (

    select
        uscc,
        closed_date,
        address,
        registered_capital
    from {{ ref('legal_entity') }}

),

zombies as (

    select uscc from {{ ref('zombie_enterprise') }}

),

persons as (

    select
        id_number,
        name,
        person_status,
        in_police_register,
        town_code
    from {{ ref('population') }}

),

representation as (

    select
        legal_rep_id_number,
        count(*) as represented_active_entities
    from ratings
    where is_active and legal_rep_id_number is not null
    group by legal_rep_id_number

),

rules as (

    select
        ratings.*,
        entities.closed_date,
        entities.address,
        entities.registered_capital,
        ratings.registration_status = '吊销' as is_revoked,
        zombies.uscc is not null as is_zombie,
        ratings.is_active and ratings.credit_grade = 'D' as is_grade_d
    from ratings
    left join entities on ratings.uscc = entities.uscc
    left join zombies on ratings.uscc = zombies.uscc

),

listed as (

    select * from rules
    where is_revoked or is_zombie or is_grade_d

),

final as (

    select
        listed.uscc,
        listed.name,
        listed.entity_type,
        listed.registration_status,
        listed.town_code,
        listed.address,
        cast(listed.registered_capital as numeric(18, 2)) as registered_capital,
        listed.credit_score,
        listed.credit_grade,
        listed.is_revoked,
        listed.is_zombie,
        listed.is_grade_d,
        concat_ws(
            ',',
            case when listed.is_revoked then 'revoked' end,
            case when listed.is_zombie then 'zombie' end,
            case when listed.is_grade_d then 'grade_d' end
        ) as black_list_reasons,
        concat_ws(
            '；',
            case when listed.is_revoked then '被吊销营业执照' end,
            case when listed.is_zombie then '连续12个月无纳税无社保（长期停业未注销）' end,
            case when listed.is_grade_d then '信用等级D（评分低于60）' end
        ) as black_list_reasons_zh,
        case
            when listed.is_revoked and listed.closed_date is not null
                then cast(listed.closed_date + interval '3 years' as date)
        end as legal_rep_restricted_until,
        listed.legal_rep_name,
        listed.legal_rep_id_number,
        persons.id_number is not null
        and persons.in_police_register as legal_rep_in_police_register,
        persons.person_status as legal_rep_person_status,
        persons.town_code as legal_rep_town_code,
        cast(coalesce(representation.represented_active_entities, 0) as integer)
            as legal_rep_active_entities,
        listed.business_date
    from listed
    left join persons on listed.legal_rep_id_number = persons.id_number
    left join representation on listed.legal_rep_id_number = representation.legal_rep_id_number

)

select * from final
