-- One row per legal entity (uscc): a transparent credit score (公共信用综合评价, 0-100)
-- that is the sum of five documented components, and its grade.
--
--   registration_score       30  registered as existing or operating (存续/在业); else 0
--   abnormal_operation_score 20  not on the abnormal-operation list (market_supervision_risk);
--                                else 0
--   tax_score                25  25 × tax_regularity (paid / expected tax periods, rounded
--                                to whole points); 25 when no period is expected of it
--                                (cooperatives, entities too young to have a due period)
--   social_insurance_score   15  a contributing enrolment covers the business date; or the
--                                entity is an individual business or cooperative that has
--                                never enrolled anyone (no employees declared); else 0
--   licence_score            10  a valid electronic business licence and no expired licence
--                                still marked 有效; 5 with an expired one; 0 without a valid
--                                business licence
--   credit_score = the sum; credit_grade A >= 90, B >= 75, C >= 60, D < 60.
with

activity as (

    select * from {{ ref('enterprise_activity') }}

),

risks as (

    select
        uscc,
        is_abnormal_operation
    from {{ ref('market_supervision_risk') }}

),

components as (

    select
        activity.*,
        coalesce(risks.is_abnormal_operation, false) as is_abnormal_operation,
        case when activity.is_active then 30 else 0 end as registration_score,
        case when coalesce(risks.is_abnormal_operation, false) then 0 else 20 end
            as abnormal_operation_score,
        case
            when activity.expected_tax_periods = 0 then 25
            else cast(round(25 * activity.tax_regularity) as integer)
        end as tax_score,
        case
            when activity.insured_persons_now > 0 then 15
            when
                activity.entity_category in ('个体工商户', '农民专业合作社')
                and activity.insured_persons_ever = 0
                then 15
            else 0
        end as social_insurance_score,
        case
            when activity.has_valid_business_licence and activity.expired_licences = 0 then 10
            when activity.has_valid_business_licence then 5
            else 0
        end as licence_score
    from activity
    left join risks on activity.uscc = risks.uscc

),

scored as (

    select
        components.*,
        components.registration_score
        + components.abnormal_operation_score
        + components.tax_score
        + components.social_insurance_score
        + components.licence_score as credit_score
    from components

),

final as (

    select
        uscc,
        name,
        entity_type,
        entity_category,
        registration_status,
        is_active,
        town_code,
        industry_section_code,
        legal_rep_name,
        legal_rep_id_number,
        established_date,
        cast(registration_score as integer) as registration_score,
        cast(abnormal_operation_score as integer) as abnormal_operation_score,
        cast(tax_score as integer) as tax_score,
        cast(social_insurance_score as integer) as social_insurance_score,
        cast(licence_score as integer) as licence_score,
        cast(credit_score as integer) as credit_score,
        case
            when credit_score >= 90 then 'A'
            when credit_score >= 75 then 'B'
            when credit_score >= 60 then 'C'
            else 'D'
        end as credit_grade,
        is_abnormal_operation,
        tax_regularity,
        expected_tax_periods,
        paid_tax_periods,
        insured_persons_now,
        valid_licences,
        expired_licences,
        business_date
    from scored

)

select * from final
