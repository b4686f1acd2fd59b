-- One row per GB/T 4754-2017 industry section × town × month: market entities existing
-- at the end of the month (or on the business date, for the current month), their
-- registered capital, registrations and deregistrations in the month, and tax — by tax
-- period (税款所属期, tax_amount) and by payment month (入库, tax_paid_amount). Tax paid
-- by an entity the legal-entity library does not know (an invalid USCC) is kept under
-- section and town '未知' so that the totals reconcile with the tax register.
--
-- Months: from the earliest tax period in the data to the month of the business date.
-- Incremental: a run replaces every month from the earliest month touched by a tax
-- payment or an entity change newer than what the table has seen (watermarks
-- last_tax_updated_at / last_entity_updated_at) up to the business month. A changed
-- entity touches every month since its founding (its status, industry or town may have
-- changed), bounded below by the first month of the range.
{{
    config(
        materialized='incremental',
        unique_key='month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

with

as_of as (

    select
        business_date,
        cast(date_trunc('month', business_date) as date) as business_month
    from {{ ref('business_date') }}

),

entities as (

    select
        uscc,
        entity_category,
        coalesce(industry_section_code, '未知') as industry_section_code,
        coalesce(town_code, '未知') as town_code,
        registration_status,
        is_active,
        established_date,
        closed_date,
        registered_capital,
        updated_at
    from {{ ref('legal_entity') }}

),

payments as (

    select
        payments.payment_id,
        payments.uscc,
        payments.tax_period_start,
        cast(date_trunc('month', payments.paid_at) as date) as paid_month,
        payments.amount,
        payments.updated_at
    from {{ ref('stg_tax__tax_payment') }} as payments
    cross join as_of
    where cast(payments.paid_at as date) <= as_of.business_date

),

watermarks as (

    select
        (select max(updated_at) from payments) as last_tax_updated_at,
        (select max(updated_at) from entities) as last_entity_updated_at

),

range_start as (

    -- the first month the library covers: the earliest tax period or payment month
    select
        least(
            (select min(least(payments.tax_period_start, payments.paid_month)) from payments),
            as_of.business_month
        ) as month_start
    from as_of

),

first_month as (

    select
        {%- if is_incremental() %}
            -- the earliest month new data touches: a new payment's tax period or payment
            -- month; a changed entity's founding month (a change of status, industry or town
            -- can alter every month since), never before the range start
            greatest(
                range_start.month_start,
                least(
                    (
                        select min(least(payments.tax_period_start, payments.paid_month))
                        from payments
                        where
                            payments.updated_at > (
                                select max(previous_run.last_tax_updated_at)
                                from {{ this }} as previous_run
                            )
                    ),
                    (
                        select cast(date_trunc('month', min(entities.established_date)) as date)
                        from entities
                        where
                            entities.updated_at > (
                                select max(previous_run.last_entity_updated_at)
                                from {{ this }} as previous_run
                            )
                    ),
                    as_of.business_month
                )
            ) as month_start
        {%- else %}
            range_start.month_start
        {%- endif %}
    from as_of
    cross join range_start

),

months as (

    select
        cast(series.month_start as date) as month_start,
        cast(
            least(series.month_start + interval '1 month' - interval '1 day', as_of.business_date)
            as date
        ) as month_as_of
    from as_of
    cross join first_month
    cross join
        lateral generate_series(first_month.month_start, as_of.business_month, interval '1 month')
            as series (month_start)

),

entity_month_states as (

    -- every entity in every month, and whether it existed at the end of the month (or on
    -- the business date, for the current month)
    select
        months.month_start,
        months.month_as_of,
        entities.industry_section_code,
        entities.town_code,
        entities.entity_category,
        entities.established_date,
        entities.closed_date,
        entities.registered_capital,
        entities.established_date <= months.month_as_of
        and (
            (entities.closed_date is null and entities.is_active)
            or entities.closed_date > months.month_as_of
        ) as is_existing
    from months
    cross join entities

),

entity_months as (

    select
        month_start,
        industry_section_code,
        town_code,
        count(*) filter (where is_existing) as market_entities,
        count(*) filter (where is_existing and entity_category = '企业') as enterprises,
        count(*) filter (where is_existing and entity_category = '个体工商户')
            as individual_businesses,
        count(*) filter (where is_existing and entity_category = '农民专业合作社') as cooperatives,
        count(*) filter (
            where established_date between month_start and month_as_of
        ) as new_registrations,
        count(*) filter (
            where closed_date between month_start and month_as_of
        ) as deregistrations,
        coalesce(sum(registered_capital) filter (where is_existing), 0) as registered_capital
    from entity_month_states
    group by month_start, industry_section_code, town_code

),

tax_by_period as (

    select
        payments.tax_period_start as month_start,
        coalesce(entities.industry_section_code, '未知') as industry_section_code,
        coalesce(entities.town_code, '未知') as town_code,
        sum(payments.amount) as tax_amount,
        count(distinct payments.uscc) as taxpaying_entities
    from payments
    left join entities on payments.uscc = entities.uscc
    where payments.tax_period_start in (select months.month_start from months)
    group by
        payments.tax_period_start,
        coalesce(entities.industry_section_code, '未知'),
        coalesce(entities.town_code, '未知')

),

tax_by_payment as (

    select
        payments.paid_month as month_start,
        coalesce(entities.industry_section_code, '未知') as industry_section_code,
        coalesce(entities.town_code, '未知') as town_code,
        sum(payments.amount) as tax_paid_amount
    from payments
    left join entities on payments.uscc = entities.uscc
    where payments.paid_month in (select months.month_start from months)
    group by
        payments.paid_month,
        coalesce(entities.industry_section_code, '未知'),
        coalesce(entities.town_code, '未知')

),

cells as (

    select
        month_start,
        industry_section_code,
        town_code
    from entity_months
    where market_entities > 0 or new_registrations > 0 or deregistrations > 0
    union
    select
        month_start,
        industry_section_code,
        town_code
    from tax_by_period
    union
    select
        month_start,
        industry_section_code,
        town_code
    from tax_by_payment

),

sections as (

    select
        code,
        name
    from {{ ref('gbt_4754_2017') }}
    where level = 'section'

),

towns as (

    select
        town_code,
        town_name
    from {{ ref('town') }}

),

final as (

    select
        to_char(cells.month_start, 'YYYY-MM')
        || '|'
        || cells.industry_section_code
        || '|'
        || cells.town_code as economy_key,
        cells.month_start as month,  -- noqa: RF04
        cells.industry_section_code,
        coalesce(sections.name, '未知') as industry_section_name,
        cells.town_code,
        coalesce(towns.town_name, '未知') as town_name,
        cast(coalesce(entity_months.market_entities, 0) as integer) as market_entities,
        cast(coalesce(entity_months.enterprises, 0) as integer) as enterprises,
        cast(coalesce(entity_months.individual_businesses, 0) as integer) as individual_businesses,
        cast(coalesce(entity_months.cooperatives, 0) as integer) as cooperatives,
        cast(coalesce(entity_months.new_registrations, 0) as integer) as new_registrations,
        cast(coalesce(entity_months.deregistrations, 0) as integer) as deregistrations,
        cast(coalesce(entity_months.registered_capital, 0) as numeric(18, 2)) as registered_capital,
        cast(coalesce(tax_by_period.tax_amount, 0) as numeric(18, 2)) as tax_amount,
        cast(coalesce(tax_by_period.taxpaying_entities, 0) as integer) as taxpaying_entities,
        cast(coalesce(tax_by_payment.tax_paid_amount, 0) as numeric(18, 2)) as tax_paid_amount,
        months.month_as_of as as_of_date,
        watermarks.last_tax_updated_at,
        watermarks.last_entity_updated_at
    from cells
    inner join months on cells.month_start = months.month_start
    cross join watermarks
    left join entity_months
        on
            cells.month_start = entity_months.month_start
            and cells.industry_section_code = entity_months.industry_section_code
            and cells.town_code = entity_months.town_code
    left join tax_by_period
        on
            cells.month_start = tax_by_period.month_start
            and cells.industry_section_code = tax_by_period.industry_section_code
            and cells.town_code = tax_by_period.town_code
    left join tax_by_payment
        on
            cells.month_start = tax_by_payment.month_start
            and cells.industry_section_code = tax_by_payment.industry_section_code
            and cells.town_code = tax_by_payment.town_code
    left join sections on cells.industry_section_code = sections.code
    left join towns on cells.town_code = towns.town_code

)

select * from final
