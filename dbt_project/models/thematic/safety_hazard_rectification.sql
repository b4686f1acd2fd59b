-- One row per safety inspection that found hazards (隐患整改), up to the business date:
-- the rectification it ordered, whether it was done, and whether it is overdue.
--
--   is_rectified  = rectified_date <= business_date
--   is_overdue    = not is_rectified and rectification_due < business_date
--   days_overdue  = business_date - rectification_due when is_overdue, else 0
--
-- The due date itself is still on time. A rectification the source dates after the
-- business date is not yet done as of it. A follow-up (复查) that still finds hazards
-- orders a new deadline in a row of its own; the earlier order stays overdue until the
-- chain is rectified (then the source dates every inspection of the chain).
with

calendar as (

    select business_date from {{ ref('business_date') }}

),

inspections as (

    select * from {{ ref('stg_emergency__safety_inspection') }}

),

entities as (

    select
        uscc,
        name,
        town_code,
        industry_section_code
    from {{ ref('legal_entity') }}

),

as_of as (

    select
        inspections.*,
        calendar.business_date,
        case
            when inspections.rectified_date <= calendar.business_date
                then inspections.rectified_date
        end as rectified_date_as_of
    from inspections
    cross join calendar
    where
        inspections.hazards_found > 0
        and inspections.inspection_date <= calendar.business_date

),

flagged as (

    select
        as_of.*,
        as_of.rectified_date_as_of is not null as is_rectified,
        coalesce(as_of.rectified_date_as_of > as_of.rectification_due, false)
            as rectified_late_as_of,
        as_of.rectified_date_as_of is null
        and coalesce(as_of.rectification_due < as_of.business_date, false) as is_overdue
    from as_of

),

final as (

    select
        cast(flagged.inspection_id as text) as inspection_id,
        cast(flagged.uscc as text) as uscc,
        cast(entities.name as text) as name,  -- noqa: RF04
        cast(entities.town_code as text) as town_code,
        cast(entities.industry_section_code as text) as industry_section_code,
        cast(flagged.inspection_date as date) as inspection_date,
        cast(flagged.inspection_type as text) as inspection_type,
        cast(flagged.is_follow_up as boolean) as is_follow_up,
        cast(flagged.inspector_unit as text) as inspector_unit,
        cast(flagged.hazards_found as integer) as hazards_found,
        cast(coalesce(flagged.major_hazards, 0) as integer) as major_hazards,
        cast(flagged.hazard_level as text) as hazard_level,
        cast(flagged.result as text) as result,
        cast(flagged.rectification_due as date) as rectification_due,
        cast(flagged.rectified_date_as_of as date) as rectified_date,
        cast(flagged.is_rectified as boolean) as is_rectified,
        cast(flagged.is_overdue as boolean) as is_overdue,
        cast(
            case
                when flagged.is_overdue then flagged.business_date - flagged.rectification_due
                else 0
            end as integer
        ) as days_overdue,
        cast(
            case
                when flagged.is_rectified
                    then greatest(flagged.rectified_date_as_of - flagged.rectification_due, 0)
            end as integer
        ) as days_rectified_late,
        cast(
            case
                when flagged.rectified_late_as_of then '逾期整改'
                when flagged.is_rectified then '按期整改'
                when flagged.is_overdue then '逾期未整改'
                else '整改中'
            end as text
        ) as rectification_status,
        cast(flagged.business_date as date) as business_date
    from flagged
    left join entities
        on flagged.uscc = entities.uscc

)

select * from final
