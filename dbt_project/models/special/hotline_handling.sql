-- One row per 12345 hotline ticket: handling time in working days (Mon-Fri) and whether
-- it is overdue as of the business date.
--
-- Incremental: a run re-computes the tickets whose source version is newer than the
-- newest version already here, and every ticket that is still open (an open ticket
-- becomes overdue as the business date moves on without a new version). Closed tickets
-- never change. Run with --full-refresh after changing the var business_date backwards.
{{
    config(
        materialized='incremental',
        unique_key='ticket_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}

with

tickets as (

    select * from {{ ref('stg_govdata__hotline_ticket') }}
    {%- if is_incremental() %}
        where
            updated_at > (
                select max(previous_run.source_updated_at) from {{ this }} as previous_run
            )
            or not is_closed
    {%- endif %}

),

as_of as (

    select
        business_date,
        as_of_timestamp
    from {{ ref('business_date') }}

),

towns as (

    select
        code,
        name
    from {{ ref('kp_town') }}

),

measured as (

    select
        tickets.ticket_id,
        tickets.created_at,
        tickets.category,
        tickets.town_code,
        towns.name as town_name,
        tickets.handling_department,
        tickets.ticket_status,
        coalesce(tickets.is_closed and tickets.closed_at is not null, false) as is_closed,
        tickets.due_at,
        tickets.closed_at,
        tickets.satisfaction,
        tickets.updated_at,
        tickets._batch_id,
        as_of.business_date,
        as_of.as_of_timestamp
    from tickets
    cross join as_of
    left join towns on tickets.town_code = towns.code

),

final as (

    select
        ticket_id,
        created_at,
        cast(created_at as date) as created_date,
        {{ thematic_iso_week('created_at') }} as created_iso_week,
        {{ thematic_iso_week_start('created_at') }} as created_week_start,
        {{ thematic_month_start('created_at') }} as created_month,
        category,
        town_code,
        town_name,
        handling_department,
        ticket_status,
        is_closed,
        due_at,
        closed_at,
        satisfaction,
        -- 办理时限（工作日）：受理日期到时限日期之间的工作日数
        {{ thematic_working_days_between('created_at', 'due_at') }} as due_working_days,
        -- 办理用时（工作日）：已办结工单，受理日期（不含）到办结日期（含）之间的周一至周五天数
        case
            when is_closed then {{ thematic_working_days_between('created_at', 'closed_at') }}
        end as handling_working_days,
        -- 已用时（工作日）：办结工单同上；在办工单算到业务日期
        case
            when is_closed then {{ thematic_working_days_between('created_at', 'closed_at') }}
            else {{ thematic_working_days_between('created_at', 'business_date') }}
        end as elapsed_working_days,
        cast(
            case when is_closed then extract(epoch from closed_at - created_at) / 3600.0 end
            as numeric(10, 2)
        ) as handling_hours,
        -- 超期：办结时间晚于时限，或截至业务日期末仍未办结且已过时限
        case
            when is_closed then closed_at > due_at
            else due_at < as_of_timestamp
        end as is_overdue,
        case
            when is_closed and closed_at > due_at
                then {{ thematic_working_days_between('due_at', 'closed_at') }}
            when not is_closed and due_at < as_of_timestamp
                then {{ thematic_working_days_between('due_at', 'business_date') }}
            else 0
        end as overdue_working_days,
        -- the date the overdue and elapsed figures hold for: final at closing for closed
        -- tickets, the business date for open ones
        case when is_closed then cast(closed_at as date) else business_date end as assessed_as_of,
        updated_at as source_updated_at,
        _batch_id
    from measured

)

select * from final
