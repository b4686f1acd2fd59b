-- One row per enterprise (uscc) inspected in the 12 months before the business date
-- (安全生产): its inspections, the hazards found, what is still open or overdue, and a
-- risk level. window = [business_date - 12 months + 1 day, business_date].
--
--   hazards_found_12m / major_hazards_12m  hazards found by the routine and special
--       inspections in the window (a follow-up only finds again hazards already counted)
--   open_hazards / open_major_hazards      hazards of routine and special inspections up
--       to the business date not rectified as of it: each open chain counted once, by
--       the inspection that opened it (the source dates the whole chain when rectified)
--   overdue_rectifications / max_days_overdue  rectification orders (any inspection that
--       found hazards) past their deadline and not rectified (safety_hazard_rectification)
--
-- risk_level: 高 an open major hazard, or a rectification more than
-- var safety_risk_long_overdue_days (30) days overdue; 中 otherwise any open hazard or
-- overdue rectification, or a major hazard found in the window; 低 none of these.
{%- set long_overdue_days = var('safety_risk_long_overdue_days', 30) %}
with

calendar as (

    select
        business_date,
        window_start
    from {{ ref('business_date') }}

),

inspections as (

    select * from {{ ref('stg_emergency__safety_inspection') }}

),

rectifications as (

    select * from {{ ref('safety_hazard_rectification') }}

),

entities as (

    select
        uscc,
        name,
        entity_category,
        registration_status,
        industry_code,
        industry_section_code,
        town_code
    from {{ ref('legal_entity') }}

),

inspected as (

    select
        inspections.uscc,
        count(*) as inspections_12m,
        count(*) filter (where inspections.inspection_type = '日常检查') as routine_inspections_12m,
        count(*) filter (where inspections.inspection_type = '专项检查') as special_inspections_12m,
        count(*) filter (where inspections.is_follow_up) as follow_up_inspections_12m,
        count(*) filter (where inspections.has_hazards) as inspections_with_hazards_12m,
        coalesce(sum(inspections.hazards_found) filter (where not inspections.is_follow_up), 0)
            as hazards_found_12m,
        coalesce(sum(inspections.major_hazards) filter (where not inspections.is_follow_up), 0)
            as major_hazards_12m,
        max(inspections.inspection_date) as last_inspection_date,
        bool_and(inspections.is_valid_uscc) as is_valid_uscc
    from inspections
    cross join calendar
    where inspections.inspection_date between calendar.window_start and calendar.business_date
    group by inspections.uscc

),

rectification_state as (

    select
        uscc,
        coalesce(sum(hazards_found) filter (where not is_rectified and not is_follow_up), 0)
            as open_hazards,
        coalesce(sum(major_hazards) filter (where not is_rectified and not is_follow_up), 0)
            as open_major_hazards,
        count(*) filter (where is_overdue) as overdue_rectifications,
        coalesce(max(days_overdue), 0) as max_days_overdue
    from rectifications
    group by uscc

),

measured as (

    select
        inspected.*,
        calendar.business_date,
        calendar.window_start,
        coalesce(rectification_state.open_hazards, 0) as open_hazards,
        coalesce(rectification_state.open_major_hazards, 0) as open_major_hazards,
        coalesce(rectification_state.overdue_rectifications, 0) as overdue_rectifications,
        coalesce(rectification_state.max_days_overdue, 0) as max_days_overdue
    from inspected
    cross join calendar
    left join rectification_state
        on inspected.uscc = rectification_state.uscc

),

final as (

    select
        cast(measured.uscc as text) as uscc,
        cast(entities.name as text) as name,  -- noqa: RF04
        cast(entities.entity_category as text) as entity_category,
        cast(entities.registration_status as text) as registration_status,
        cast(entities.industry_code as text) as industry_code,
        cast(entities.industry_section_code as text) as industry_section_code,
        cast(entities.town_code as text) as town_code,
        cast(entities.uscc is not null as boolean) as is_known_entity,
        cast(measured.is_valid_uscc as boolean) as is_valid_uscc,
        cast(measured.inspections_12m as integer) as inspections_12m,
        cast(measured.routine_inspections_12m as integer) as routine_inspections_12m,
        cast(measured.special_inspections_12m as integer) as special_inspections_12m,
        cast(measured.follow_up_inspections_12m as integer) as follow_up_inspections_12m,
        cast(measured.inspections_with_hazards_12m as integer) as inspections_with_hazards_12m,
        cast(measured.hazards_found_12m as integer) as hazards_found_12m,
        cast(measured.major_hazards_12m as integer) as major_hazards_12m,
        cast(measured.open_hazards as integer) as open_hazards,
        cast(measured.open_major_hazards as integer) as open_major_hazards,
        cast(measured.overdue_rectifications as integer) as overdue_rectifications,
        cast(measured.max_days_overdue as integer) as max_days_overdue,
        cast(measured.last_inspection_date as date) as last_inspection_date,
        cast(measured.business_date - measured.last_inspection_date as integer)
            as days_since_last_inspection,
        cast(
            case
                when
                    measured.open_major_hazards > 0
                    or measured.max_days_overdue > {{ long_overdue_days }}
                    then '高'
                when
                    measured.open_hazards > 0
                    or measured.overdue_rectifications > 0
                    or measured.major_hazards_12m > 0
                    then '中'
                else '低'
            end as text
        ) as risk_level,
        cast(measured.window_start as date) as window_start,
        cast(measured.business_date as date) as business_date
    from measured
    left join entities
        on measured.uscc = entities.uscc

)

select * from final
