-- One row per person × zombie enterprise they were ever enrolled with (social insurance,
-- any insurance type): the workers of zombie enterprises (僵尸企业职工), for
-- re-employment services and wage-arrears checks. Whether the person now contributes
-- through another employer or as flexibly employed, and their status in the population
-- library, come alongside.
with

zombies as (

    select
        uscc,
        name,
        town_code,
        industry_section_code,
        last_activity_date
    from {{ ref('zombie_enterprise') }}

),

as_of as (

    select business_date from {{ ref('business_date') }}

),

enrolments as (

    select * from {{ ref('stg_hrss__social_insurance') }}
    where id_number is not null

),

at_zombies as (

    select
        enrolments.id_number,
        enrolments.uscc,
        count(*) as enrolments,
        string_agg(
            distinct enrolments.insurance_type_code, ',' order by enrolments.insurance_type_code
        ) as insurance_types,
        min(enrolments.start_date) as first_start_date,
        max(enrolments.end_date) as last_end_date,
        bool_and(enrolments.end_date is not null) as all_ended,
        max(enrolments.contribution_base) as last_contribution_base,
        (array_agg(enrolments.name order by enrolments.updated_at desc nulls last))[1]
            as enrolled_name
    from enrolments
    inner join zombies on enrolments.uscc = zombies.uscc
    group by enrolments.id_number, enrolments.uscc

),

contributing_now as (

    select
        enrolments.id_number,
        string_agg(distinct coalesce(enrolments.uscc, '灵活就业'), ',') as current_employers
    from enrolments
    cross join as_of
    where
        enrolments.is_contributing
        and enrolments.start_date <= as_of.business_date
        and (enrolments.end_date is null or enrolments.end_date >= as_of.business_date)
    group by enrolments.id_number

),

persons as (

    select
        id_number,
        name,
        person_status,
        town_code,
        is_low_income_recipient
    from {{ ref('population') }}

),

final as (

    select
        at_zombies.id_number || '|' || at_zombies.uscc as worker_key,
        at_zombies.id_number,
        coalesce(persons.name, at_zombies.enrolled_name) as name,  -- noqa: RF04
        persons.person_status,
        persons.town_code as person_town_code,
        at_zombies.uscc,
        zombies.name as enterprise_name,
        zombies.town_code as enterprise_town_code,
        zombies.industry_section_code,
        cast(at_zombies.enrolments as integer) as enrolments,
        at_zombies.insurance_types,
        at_zombies.first_start_date,
        at_zombies.last_end_date,
        at_zombies.all_ended as enrolment_ended,
        cast(at_zombies.last_contribution_base as numeric(12, 2)) as last_contribution_base,
        contributing_now.id_number is not null as is_contributing_elsewhere,
        contributing_now.current_employers,
        coalesce(persons.is_low_income_recipient, false) as is_low_income_recipient,
        as_of.business_date
    from at_zombies
    inner join zombies on at_zombies.uscc = zombies.uscc
    cross join as_of
    left join persons on at_zombies.id_number = persons.id_number
    left join contributing_now on at_zombies.id_number = contributing_now.id_number

)

select * from final
