-- sqlfluff:rules:references.keywords:ignore_words:attribute,name
-- Cross-department disagreements about a person (R1.4 一数一源 cross-checks): one row per
-- person × attribute × other department × value that department holds, where the value
-- differs from the authoritative one the population library carries. The copies
-- compared are the identity attributes other departments keep of a person the police
-- register knows:
--   name       hrss enrolments, civil assistance, overseas roster, real-estate owners,
--              electronic-licence holders
--   sex_code   overseas roster (after mapping to GB/T 2261.1)
--   town_code  civil assistance (the recipient's town)
-- A department that leaves a value empty does not disagree. When police holds no value
-- and another department does, the row says so (conflict_type missing_in_authoritative).
with

population as (

    select
        id_number,
        name,
        sex_code,
        town_code
    from {{ ref('population') }}
    where in_police_register

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

properties as (

    select * from {{ ref('stg_natres__real_estate') }}

),

licences as (

    select * from {{ ref('stg_govdata__e_licence') }}

),

claims as (

    select
        id_number,
        'name' as attribute,
        name as other_value,
        'hrss.social_insurance' as other_source,
        enrolment_id as other_record_id
    from insurance_enrolments
    union all
    select
        id_number,
        'name' as attribute,
        name as other_value,
        'civil.low_income' as other_source,
        recipient_id as other_record_id
    from assistance_recipients
    union all
    select
        id_number,
        'town_code' as attribute,
        town_code as other_value,
        'civil.low_income' as other_source,
        recipient_id as other_record_id
    from assistance_recipients
    union all
    select
        id_number,
        'name' as attribute,
        name as other_value,
        'overseas.overseas_chinese' as other_source,
        roster_id as other_record_id
    from roster_entries
    union all
    select
        id_number,
        'sex_code' as attribute,
        sex_code as other_value,
        'overseas.overseas_chinese' as other_source,
        roster_id as other_record_id
    from roster_entries
    union all
    select
        owner_id_number as id_number,
        'name' as attribute,
        owner_name as other_value,
        'natres.real_estate' as other_source,
        certificate_no as other_record_id
    from properties
    union all
    select
        holder_id_number as id_number,
        'name' as attribute,
        holder_name as other_value,
        'govdata.e_licence' as other_source,
        licence_no as other_record_id
    from licences

),

authoritative as (

    select
        id_number,
        'name' as attribute,
        name as authoritative_value
    from population
    union all
    select
        id_number,
        'sex_code' as attribute,
        sex_code as authoritative_value
    from population
    union all
    select
        id_number,
        'town_code' as attribute,
        town_code as authoritative_value
    from population

),

disagreements as (

    select
        claims.id_number,
        claims.attribute,
        authoritative.authoritative_value,
        claims.other_source,
        claims.other_value,
        claims.other_record_id
    from claims
    inner join authoritative
        on
            claims.id_number = authoritative.id_number
            and claims.attribute = authoritative.attribute
    where
        claims.id_number is not null
        and claims.other_value is not null
        and claims.other_value is distinct from authoritative.authoritative_value

),

grouped as (

    select
        id_number,
        attribute,
        authoritative_value,
        other_source,
        other_value,
        count(*) as other_record_count,
        string_agg(other_record_id, ',' order by other_record_id) as other_record_ids
    from disagreements
    group by id_number, attribute, authoritative_value, other_source, other_value

),

final as (

    select
        cast({{ surrogate_key(['id_number', 'attribute', 'other_source', 'other_value']) }} as text)
            as conflict_id,
        cast(id_number as text) as id_number,
        cast(attribute as text) as attribute,
        cast('police.person' as text) as authoritative_source,
        cast(authoritative_value as text) as authoritative_value,
        cast(other_source as text) as other_source,
        cast(other_value as text) as other_value,
        cast(
            case
                when authoritative_value is null then 'missing_in_authoritative'
                else 'different_value'
            end
            as text
        ) as conflict_type,
        cast(other_record_count as integer) as other_record_count,
        cast(other_record_ids as text) as other_record_ids
    from grouped

)

select * from final
