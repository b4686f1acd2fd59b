-- 低收入人口核查（两线合一）: one row per low-income assistance recipient currently
-- receiving assistance (在保) × reason found against them:
--
--   legal_representative    legal representative (or operator) of a market entity that
--                           exists (存续/在业) in the legal-entity library
--   property_owner          owns more than var low_income_residential_limit (1)
--                           residential properties, or any non-residential property
--                           (商业/办公/工业 ...), in the real-estate register
--   high_contribution_base  a contributing social-insurance enrolment covering the
--                           business date with a contribution base above var
--                           low_income_contribution_base_line (12 000 CNY a month)
--
-- Matching is by citizen identity number. evidence names the records; evidence_amount is
-- the registered capital (10k CNY), the floor area (m2) or the highest base (CNY/month).
{%- set residential_limit = var('low_income_residential_limit', 1) %}
{%- set base_line = var('low_income_contribution_base_line', 12000) %}
with

as_of as (

    select business_date from {{ ref('business_date') }}

),

recipients as (

    select
        recipient_id,
        name,
        id_number,
        town_code,
        assistance_category,
        assistance_status
    from {{ ref('stg_civil__low_income') }}
    where is_receiving and id_number is not null

),

represented as (

    select
        legal_rep_id_number as id_number,
        count(*) as evidence_count,
        string_agg(uscc || ' ' || coalesce(name, ''), '；' order by uscc) as evidence,
        sum(registered_capital) as evidence_amount
    from {{ ref('legal_entity') }}
    where is_active and legal_rep_id_number is not null
    group by legal_rep_id_number

),

owned as (

    select
        owner_id_number as id_number,
        count(*) as evidence_count,
        count(*) filter (where usage = '住宅') as residential_count,
        count(*) filter (where usage is distinct from '住宅') as non_residential_count,
        string_agg(certificate_no || ' ' || coalesce(usage, ''), '；' order by certificate_no)
            as evidence,
        sum(floor_area) as evidence_amount
    from {{ ref('stg_natres__real_estate') }}
    where owner_type = '个人' and owner_id_number is not null
    group by owner_id_number

),

insured as (

    select
        enrolments.id_number,
        count(*) as evidence_count,
        string_agg(
            enrolments.enrolment_id
            || ' '
            || coalesce(enrolments.uscc, '灵活就业')
            || ' '
            || enrolments.contribution_base,
            '；' order by enrolments.enrolment_id
        ) as evidence,
        max(enrolments.contribution_base) as evidence_amount
    from {{ ref('stg_hrss__social_insurance') }} as enrolments
    cross join as_of
    where
        enrolments.is_contributing
        and enrolments.id_number is not null
        and enrolments.contribution_base > {{ base_line }}
        and (enrolments.start_date is null or enrolments.start_date <= as_of.business_date)
        and (enrolments.end_date is null or enrolments.end_date >= as_of.business_date)
    group by enrolments.id_number

),

findings as (

    select
        recipients.*,
        'legal_representative' as reason_code,
        '担任存续市场主体法定代表人或经营者' as reason,
        represented.evidence_count,
        represented.evidence,
        represented.evidence_amount
    from recipients
    inner join represented on recipients.id_number = represented.id_number

    union all

    select
        recipients.*,
        'property_owner' as reason_code,
        '拥有多套住宅或非住宅房产' as reason,
        owned.evidence_count,
        owned.evidence,
        owned.evidence_amount
    from recipients
    inner join owned on recipients.id_number = owned.id_number
    where owned.residential_count > {{ residential_limit }} or owned.non_residential_count > 0

    union all

    select
        recipients.*,
        'high_contribution_base' as reason_code,
        '社保缴费基数高于认定线' as reason,
        insured.evidence_count,
        insured.evidence,
        insured.evidence_amount
    from recipients
    inner join insured on recipients.id_number = insured.id_number

),

final as (

    select
        findings.recipient_id || '|' || findings.reason_code as check_id,
        findings.recipient_id,
        findings.name,
        findings.id_number,
        findings.town_code,
        findings.assistance_category,
        findings.reason_code,
        findings.reason,
        cast(findings.evidence_count as integer) as evidence_count,
        findings.evidence,
        cast(findings.evidence_amount as numeric(18, 2)) as evidence_amount,
        as_of.business_date
    from findings
    cross join as_of

)

select * from final
