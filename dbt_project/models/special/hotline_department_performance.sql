-- One row per handling department × month (of the call): tickets, overdue rate, mean
-- handling time in working days and satisfaction, as of the business date.
--
--   overdue_rate            = overdue_tickets / assessable_tickets, where assessable
--                             tickets are those whose timeliness is known: closed, or
--                             still open past their due time (open tickets not yet due
--                             are left out of numerator and denominator)
--   mean_handling_working_days = mean of handling_working_days over closed tickets
--   mean_satisfaction       = mean satisfaction (1-5) over rated closed tickets
--   satisfied_rate          = share of rated tickets rated 4 or 5
--
-- Incremental by month: a run replaces the months that hold a ticket whose source
-- version is newer than the newest one already counted, or a ticket still open (its
-- overdue state moves with the business date).
{{
    config(
        materialized='incremental',
        unique_key='month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

with

handling as (

    select * from {{ ref('hotline_handling') }}

),

affected_months as (

    select distinct created_month
    from handling
    {%- if is_incremental() %}
        where
            source_updated_at > (
                select max(previous_run.last_source_updated_at)
                from {{ this }} as previous_run
            )
            or not is_closed
    {%- endif %}

),

aggregated as (

    select
        handling.created_month,
        handling.handling_department,
        count(*) as tickets,
        count(*) filter (where handling.is_closed) as closed_tickets,
        count(*) filter (where not handling.is_closed) as open_tickets,
        count(*) filter (where handling.is_closed or handling.is_overdue) as assessable_tickets,
        count(*) filter (where handling.is_overdue) as overdue_tickets,
        avg(handling.handling_working_days) as mean_handling_working_days,
        count(handling.satisfaction) filter (where handling.is_closed) as rated_tickets,
        avg(handling.satisfaction) filter (where handling.is_closed) as mean_satisfaction,
        count(*) filter (where handling.is_closed and handling.satisfaction >= 4)
            as satisfied_tickets,
        max(handling.assessed_as_of) as as_of_date,
        max(handling.source_updated_at) as last_source_updated_at
    from handling
    inner join affected_months on handling.created_month = affected_months.created_month
    group by handling.created_month, handling.handling_department

),

final as (

    select
        to_char(created_month, 'YYYY-MM') || '|' || handling_department as performance_key,
        created_month as month,  -- noqa: RF04
        handling_department,
        cast(tickets as integer) as tickets,
        cast(closed_tickets as integer) as closed_tickets,
        cast(open_tickets as integer) as open_tickets,
        cast(assessable_tickets as integer) as assessable_tickets,
        cast(overdue_tickets as integer) as overdue_tickets,
        cast(cast(overdue_tickets as numeric) / nullif(assessable_tickets, 0) as numeric(5, 4))
            as overdue_rate,
        cast(mean_handling_working_days as numeric(8, 2)) as mean_handling_working_days,
        cast(rated_tickets as integer) as rated_tickets,
        cast(mean_satisfaction as numeric(3, 2)) as mean_satisfaction,
        cast(cast(satisfied_tickets as numeric) / nullif(rated_tickets, 0) as numeric(5, 4))
            as satisfied_rate,
        as_of_date,
        last_source_updated_at
    from aggregated

)

select * from final
