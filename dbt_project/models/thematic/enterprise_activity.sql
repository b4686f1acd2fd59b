-- One row per legal entity (uscc): its business activity in the 12-month window ending on
-- the business date — tax payments, social-insurance enrolments, licences — the inputs of
-- the credit rating, the market-supervision risk flags and the zombie-enterprise rule.
--
--   window                  [business_date - 12 months + 1 day, business_date]
--   tax_payments_12m        payments with paid_at on a date inside the window
--   enrolments_12m          enrolments (any insurance type, any status) whose spell
--                           [start_date, end_date or open] overlaps the window
--   insured_persons_now     distinct persons with a contributing enrolment (参保缴费)
--                           whose spell covers the business date
--   assessed tax periods    the 12 most recent tax periods whose filing deadline (the
--                           15th of the following month) is on or before the business
--                           date; an entity is expected to pay for the assessed periods it
--                           existed in — every month for enterprises, quarter-end months
--                           for individual businesses (按季申报); farmers' cooperatives
--                           are not assessed (免征增值税)
--   tax_regularity          paid expected periods / expected periods (NULL: none expected)
with

as_of as (

    select
        business_date,
        window_start,
        window_end
    from {{ ref('business_date') }}

),

entities as (

    select * from {{ ref('legal_entity') }}

),

payments as (

    select
        uscc,
        payment_id,
        tax_period,
        tax_period_start,
        amount,
        paid_at
    from {{ ref('stg_tax__tax_payment') }}
    where uscc is not null

),

enrolments as (

    select
        uscc,
        enrolment_id,
        id_number,
        start_date,
        end_date,
        is_contributing
    from {{ ref('stg_hrss__social_insurance') }}
    where uscc is not null

),

licences as (

    select
        holder_uscc as uscc,
        licence_no,
        licence_type,
        licence_status,
        valid_until
    from {{ ref('e_licence') }}
    where holder_uscc is not null

),

assessed_periods as (

    -- the 12 most recent periods whose deadline (period start + 1 month + 14 days) has passed
    select
        cast(period_start as date) as period_start,
        cast(period_start + interval '1 month' - interval '1 day' as date) as period_end
    from as_of
    cross join lateral generate_series(
        cast(
            date_trunc('month', business_date - interval '14 days') - interval '12 months' as date
        ),
        cast(date_trunc('month', business_date - interval '14 days') - interval '1 month' as date),
        interval '1 month'
    ) as periods (period_start)

),

expected_periods as (

    select
        entities.uscc,
        assessed_periods.period_start
    from entities
    cross join assessed_periods
    where
        entities.entity_category <> '农民专业合作社'
        and entities.established_date <= assessed_periods.period_end
        and (entities.closed_date is null or entities.closed_date >= assessed_periods.period_start)
        and (
            entities.entity_category <> '个体工商户'
            or extract(month from assessed_periods.period_start) in (3, 6, 9, 12)
        )

),

paid_periods as (

    select distinct
        payments.uscc,
        payments.tax_period_start as period_start
    from payments
    cross join as_of
    where cast(payments.paid_at as date) <= as_of.business_date

),

period_compliance as (

    select
        expected_periods.uscc,
        count(*) as expected_tax_periods,
        count(paid_periods.uscc) as paid_tax_periods
    from expected_periods
    left join paid_periods
        on
            expected_periods.uscc = paid_periods.uscc
            and expected_periods.period_start = paid_periods.period_start
    group by expected_periods.uscc

),

tax_activity as (

    select
        payments.uscc,
        count(*) filter (
            where cast(payments.paid_at as date) between as_of.window_start and as_of.window_end
        ) as tax_payments_12m,
        coalesce(sum(payments.amount) filter (
            where cast(payments.paid_at as date) between as_of.window_start and as_of.window_end
        ), 0) as tax_amount_12m,
        max(payments.paid_at) filter (where cast(payments.paid_at as date) <= as_of.window_end)
            as last_paid_at
    from payments
    cross join as_of
    group by payments.uscc

),

insurance_activity as (

    select
        enrolments.uscc,
        count(*) filter (
            where
            enrolments.start_date <= as_of.window_end
            and (enrolments.end_date is null or enrolments.end_date >= as_of.window_start)
        ) as enrolments_12m,
        count(distinct enrolments.id_number) filter (
            where
            enrolments.is_contributing
            and enrolments.start_date <= as_of.business_date
            and (enrolments.end_date is null or enrolments.end_date >= as_of.business_date)
        ) as insured_persons_now,
        count(distinct enrolments.id_number) as insured_persons_ever,
        max(enrolments.end_date) as last_enrolment_end_date
    from enrolments
    cross join as_of
    group by enrolments.uscc

),

licence_activity as (

    select
        licences.uscc,
        count(*) filter (
            where licences.licence_status = '有效'
            and (licences.valid_until is null or licences.valid_until >= as_of.business_date)
        ) as valid_licences,
        count(*) filter (
            where licences.licence_status = '有效' and licences.valid_until < as_of.business_date
        ) as expired_licences,
        bool_or(
            licences.licence_type = '营业执照'
            and licences.licence_status = '有效'
            and (licences.valid_until is null or licences.valid_until >= as_of.business_date)
        ) as has_valid_business_licence
    from licences
    cross join as_of
    group by licences.uscc

),

final as (

    select
        entities.uscc,
        entities.name,
        entities.entity_type,
        entities.entity_category,
        entities.registration_status,
        coalesce(entities.is_active, false) as is_active,
        entities.established_date,
        entities.closed_date,
        entities.industry_code,
        entities.industry_section_code,
        entities.town_code,
        cast(entities.registered_capital as numeric(18, 2)) as registered_capital,
        entities.legal_rep_name,
        entities.legal_rep_id_number,
        coalesce(entities.established_date <= as_of.window_start, false) as existed_whole_window,
        cast(coalesce(tax_activity.tax_payments_12m, 0) as integer) as tax_payments_12m,
        cast(coalesce(tax_activity.tax_amount_12m, 0) as numeric(18, 2)) as tax_amount_12m,
        tax_activity.last_paid_at,
        cast(coalesce(period_compliance.expected_tax_periods, 0) as integer)
            as expected_tax_periods,
        cast(coalesce(period_compliance.paid_tax_periods, 0) as integer) as paid_tax_periods,
        cast(
            cast(period_compliance.paid_tax_periods as numeric)
            / nullif(period_compliance.expected_tax_periods, 0)
            as numeric(5, 4)
        ) as tax_regularity,
        cast(coalesce(insurance_activity.enrolments_12m, 0) as integer) as enrolments_12m,
        cast(coalesce(insurance_activity.insured_persons_now, 0) as integer) as insured_persons_now,
        cast(coalesce(insurance_activity.insured_persons_ever, 0) as integer)
            as insured_persons_ever,
        insurance_activity.last_enrolment_end_date,
        cast(coalesce(licence_activity.valid_licences, 0) as integer) as valid_licences,
        cast(coalesce(licence_activity.expired_licences, 0) as integer) as expired_licences,
        coalesce(licence_activity.has_valid_business_licence, false) as has_valid_business_licence,
        as_of.window_start,
        as_of.window_end as business_date
    from entities
    cross join as_of
    left join tax_activity on entities.uscc = tax_activity.uscc
    left join period_compliance on entities.uscc = period_compliance.uscc
    left join insurance_activity on entities.uscc = insurance_activity.uscc
    left join licence_activity on entities.uscc = licence_activity.uscc

)

select * from final
