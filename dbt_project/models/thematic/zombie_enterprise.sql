-- One row per zombie enterprise (僵尸企业): a market entity still registered as existing
-- or operating (存续/在业) on the business date, established on or before the start of
-- the 12-month window (so that it had the whole window to be active), with no tax
-- payment and no social-insurance enrolment in that window:
--
--   is_active and established_date <= window_start
--   and tax_payments_12m = 0 and enrolments_12m = 0
--
-- window = [business_date - 12 months + 1 day, business_date]; counts from
-- enterprise_activity. The rule applies to every entity category (enterprises,
-- individual businesses, farmers' cooperatives).
with

activity as (

    select * from {{ ref('enterprise_activity') }}

),

zombies as (

    select *
    from activity
    where
        is_active
        and existed_whole_window
        and tax_payments_12m = 0
        and enrolments_12m = 0

),

final as (

    select
        uscc,
        name,
        entity_type,
        entity_category,
        registration_status,
        established_date,
        industry_code,
        industry_section_code,
        town_code,
        registered_capital,
        legal_rep_name,
        legal_rep_id_number,
        last_paid_at,
        last_enrolment_end_date,
        insured_persons_ever as former_insured_persons,
        -- how long it has been quiet: since its last sign of activity, else since it was founded
        cast(
            greatest(
                cast(last_paid_at as date),
                last_enrolment_end_date,
                established_date
            ) as date
        ) as last_activity_date,
        window_start,
        business_date
    from zombies

)

select * from final
