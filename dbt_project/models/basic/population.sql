-- The population library (人口基础库): one row per natural person, keyed by the citizen
-- identity number, fused from the police register, social insurance, civil affairs and
-- the overseas-Chinese roster.
--
-- One datum, one source (一数一源): every attribute is taken from the department the
-- catalog marks authoritative for it, and from that department only — police for
-- identity (name, sex, birth date, ethnicity, marital status, address, town, status,
-- death), civil affairs for assistance, the overseas office for the roster category and
-- country, hrss for enrolment. The other departments' copies are compared in
-- population_conflicts, never used to overwrite.
--
-- A person unknown to police (an identity number only other departments hold) still
-- gets a row (is_unknown_identity): name from hrss, else civil affairs, else the roster;
-- sex from the roster, else the identity number; birth date from the identity number.
-- A person registered twice by police (two person_ids, one id_number) gets one row: the
-- most recently updated record, then the earliest person_id.
with

police_persons as (

    select * from {{ ref('stg_police__person') }}

),

insurance_enrolments as (

    select * from {{ ref('stg_hrss__social_insurance') }}

),

assistance_recipients as (

    select * from {{ ref('stg_civil__low_income') }}

),

roster_entries as (

    select * from {{ ref('stg_overseas__overseas_chinese') }}

),

person_address_matches as (

    select
        source_record_id,
        standard_address_id
    from {{ ref('address_match') }}
    where source_resource = 'police.person'

),

police_ranked as (

    select
        police_persons.*,
        row_number() over (
            partition by police_persons.id_number
            order by police_persons.updated_at desc nulls last, police_persons.person_id asc
        ) as record_rank,
        count(*) over (partition by police_persons.id_number) as record_count,
        string_agg(police_persons.person_id, ',') over (
            partition by police_persons.id_number
            order by police_persons.person_id
            rows between unbounded preceding and unbounded following
        ) as person_ids
    from police_persons
    where police_persons.id_number is not null

),

police_register as (

    select * from police_ranked
    where record_rank = 1

),

social_insurance as (

    select
        id_number,
        count(*) as enrolment_count,
        bool_or(is_contributing) as has_contributing_enrolment
    from insurance_enrolments
    where id_number is not null
    group by id_number

),

insurance_names as (

    -- the name on the person's most recently updated enrolment that carries one
    select distinct on (id_number)
        id_number,
        name
    from insurance_enrolments
    where id_number is not null and name is not null
    order by id_number asc, updated_at desc nulls last, enrolment_id asc

),

low_income as (

    -- the recipient record that speaks for the person: receiving first, then the latest
    select distinct on (id_number)
        id_number,
        coalesce(is_receiving, false) as is_receiving,
        assistance_category,
        name,
        town_code
    from assistance_recipients
    where id_number is not null
    order by
        id_number asc, is_receiving desc nulls last, start_date desc nulls last, recipient_id asc

),

overseas_roster as (

    -- the person's most recently registered roster entry
    select distinct on (id_number)
        id_number,
        overseas_category,
        country,
        name,
        sex_code
    from roster_entries
    where id_number is not null
    order by id_number asc, registered_date desc nulls last, roster_id asc

),

persons as (

    select id_number from police_register
    union
    select id_number from social_insurance
    union
    select id_number from low_income
    union
    select id_number from overseas_roster

),

identified as (

    select
        persons.id_number,
        {{ citizen_id_problem('persons.id_number') }} as id_number_problem
    from persons

),

fused as (

    select
        identified.id_number,
        identified.id_number_problem,
        police.person_id is not null as in_police_register,
        police.person_id as police_person_id,
        coalesce(police.record_count, 0) as police_record_count,
        police.person_ids as police_person_ids,

        -- identity: police when police knows the person, whatever it says
        case
            when police.person_id is not null then police.name
            else coalesce(insurance_names.name, assistance.name, roster.name)
        end as name,  -- noqa: RF04
        case
            when police.person_id is not null then 'police.person'
            when insurance_names.name is not null then 'hrss.social_insurance'
            when assistance.name is not null then 'civil.low_income'
            when roster.name is not null then 'overseas.overseas_chinese'
        end as name_source,
        case
            when police.person_id is not null then police.sex_code
            else
                coalesce(
                    roster.sex_code,
                    {{ id_number_sex_code('identified.id_number', 'identified.id_number_problem') }}
                )
        end as sex_code,
        case
            when police.person_id is not null then 'police.person'
            when roster.sex_code is not null then 'overseas.overseas_chinese'
            when identified.id_number_problem is null then 'id_number'
        end as sex_source,
        case
            when police.person_id is not null then police.birth_date
            else {{ id_number_birth_date('identified.id_number', 'identified.id_number_problem') }}
        end as birth_date,
        case
            when police.person_id is not null then 'police.person'
            when identified.id_number_problem is null then 'id_number'
        end as birth_date_source,
        police.ethnicity_code,
        police.marital_status_code,
        police.household_no,
        police.address,
        addresses.standard_address_id,
        case
            when police.person_id is not null then police.town_code
            else assistance.town_code
        end as town_code,
        case
            when police.person_id is not null then 'police.person'
            when assistance.town_code is not null then 'civil.low_income'
        end as town_code_source,
        police.person_status,
        police.death_date,
        police.updated_at as police_updated_at,

        -- what the other departments are authoritative for
        insurance.id_number is not null as in_social_insurance,
        coalesce(insurance.has_contributing_enrolment, false) as has_contributing_insurance,
        coalesce(assistance.is_receiving, false) as is_low_income_recipient,
        assistance.assistance_category as low_income_category,
        roster.id_number is not null as on_overseas_roster,
        roster.overseas_category,
        roster.country as overseas_country,

        cast(police.person_id is not null as integer)
        + cast(insurance.id_number is not null as integer)
        + cast(assistance.id_number is not null as integer)
        + cast(roster.id_number is not null as integer) as source_count
    from identified
    left join police_register as police
        on identified.id_number = police.id_number
    left join social_insurance as insurance
        on identified.id_number = insurance.id_number
    left join insurance_names
        on identified.id_number = insurance_names.id_number
    left join low_income as assistance
        on identified.id_number = assistance.id_number
    left join overseas_roster as roster
        on identified.id_number = roster.id_number
    left join person_address_matches as addresses
        on police.person_id = addresses.source_record_id

),

final as (

    select
        cast(id_number as text) as id_number,
        cast(id_number_problem as text) as id_number_problem,
        cast(id_number_problem is null as boolean) as is_valid_id_number,
        cast(name as text) as name,  -- noqa: RF04
        cast(name_source as text) as name_source,
        cast(sex_code as text) as sex_code,
        cast(sex_source as text) as sex_source,
        cast(birth_date as date) as birth_date,
        cast(birth_date_source as text) as birth_date_source,
        cast(ethnicity_code as text) as ethnicity_code,
        cast(marital_status_code as text) as marital_status_code,
        cast(household_no as text) as household_no,
        cast(address as text) as address,
        cast(standard_address_id as text) as standard_address_id,
        cast(town_code as text) as town_code,
        cast(town_code_source as text) as town_code_source,
        cast(person_status as text) as person_status,
        cast(death_date as date) as death_date,
        cast(in_police_register as boolean) as in_police_register,
        cast(not in_police_register as boolean) as is_unknown_identity,
        cast(police_person_id as text) as police_person_id,
        cast(police_record_count as integer) as police_record_count,
        cast(police_person_ids as text) as police_person_ids,
        cast(in_social_insurance as boolean) as in_social_insurance,
        cast(has_contributing_insurance as boolean) as has_contributing_insurance,
        cast(is_low_income_recipient as boolean) as is_low_income_recipient,
        cast(low_income_category as text) as low_income_category,
        cast(on_overseas_roster as boolean) as on_overseas_roster,
        cast(overseas_category as text) as overseas_category,
        cast(overseas_country as text) as overseas_country,
        cast(source_count as integer) as source_count,
        cast(police_updated_at as timestamp) as police_updated_at
    from fused

)

select * from final
