-- One row per legal entity on the credit red list (守信激励名单), joined to the entity and
-- to its legal representative as a person of the population library. All rules hold:
--
--   existing or operating (存续/在业) with credit grade A (score >= 90)
--   established at least var credit_red_list_min_years (3) years before the business date
--   no missed tax period: paid every tax period expected of it in the assessed 12
--   no market-supervision risk flag (risk_level 低)
--   its legal representative represents no entity on the black list (联合惩戒)
{%- set min_years = var('credit_red_list_min_years', 3) %}
with

ratings as (

    select * from {{ ref('credit_rating') }}

),

risks as (

    select
        uscc,
        risk_level
    from {{ ref('market_supervision_risk') }}

),

black_listed_reps as (

    select distinct legal_rep_id_number
    from {{ ref('credit_black_list') }}
    where legal_rep_id_number is not null

),

entities as (

    select
        uscc,
        address,
        registered_capital
    from {{ ref('legal_entity') }}

),

persons as (

    select
        id_number,
        person_status,
        in_police_register,
        town_code
    from {{ ref('population') }}

),

listed as (

    select ratings.*
    from ratings
    inner join risks on ratings.uscc = risks.uscc
    left join
        black_listed_reps
        on ratings.legal_rep_id_number = black_listed_reps.legal_rep_id_number
    where
        ratings.is_active
        and ratings.credit_grade = 'A'
        and ratings.established_date
        <= cast(ratings.business_date - interval '{{ min_years }} years' as date)
        and ratings.paid_tax_periods = ratings.expected_tax_periods
        and risks.risk_level = '低'
        and black_listed_reps.legal_rep_id_number is null

),

final as (

    select
        listed.uscc,
        listed.name,
        listed.entity_type,
        listed.registration_status,
        listed.town_code,
        entities.address,
        cast(entities.registered_capital as numeric(18, 2)) as registered_capital,
        listed.established_date,
        listed.credit_score,
        listed.credit_grade,
        listed.legal_rep_name,
        listed.legal_rep_id_number,
        persons.id_number is not null
        and persons.in_police_register as legal_rep_in_police_register,
        persons.person_status as legal_rep_person_status,
        persons.town_code as legal_rep_town_code,
        listed.business_date
    from listed
    left join entities on listed.uscc = entities.uscc
    left join persons on listed.legal_rep_id_number = persons.id_number

)

select * from final
