-- One row per request category × town × ISO week (of the call) with at least one ticket:
-- how many tickets, against the previous week and the category's mean per town, and
-- whether the cell is a hot spot (热点).
--
-- Hot spot rule: tickets >= var hotline_hotspot_min_tickets (3) and tickets >=
-- var hotline_hotspot_ratio (2) × the category's mean per town that week (the category's
-- tickets in the city that week / the number of towns in kp_town).
--
-- Incremental by week: a run replaces the weeks of the tickets whose source version is
-- newer than the newest version already counted and the week after each (its
-- previous-week figure changes), and the weeks holding open tickets (overdue_tickets
-- moves with the business date).
{{
    config(
        materialized='incremental',
        unique_key='iso_week',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}
{%- set min_tickets = var('hotline_hotspot_min_tickets', 3) %}
{%- set ratio = var('hotline_hotspot_ratio', 2) %}

with

handling as (

    select * from {{ ref('hotline_handling') }}

),

affected_weeks as (

    select distinct weeks.week_start
    from (
        select created_week_start as week_start
        from handling
        {%- if is_incremental() %}
            where
                source_updated_at > (
                    select max(previous_run.last_source_updated_at)
                    from {{ this }} as previous_run
                )
                or not is_closed
        {%- endif %}
        union all
        select cast(created_week_start + interval '7 days' as date) as week_start
        from handling
        {%- if is_incremental() %}
            where
                source_updated_at > (
                    select max(previous_run.last_source_updated_at)
                    from {{ this }} as previous_run
                )
        {%- endif %}
    ) as weeks

),

town_count as (

    select count(*) as towns from {{ ref('kp_town') }}

),

cells as (

    select
        created_week_start as week_start,
        created_iso_week as iso_week,
        coalesce(town_code, '未知') as town_code,
        coalesce(town_name, '未知镇街') as town_name,
        category,
        count(*) as tickets,
        count(*) filter (where is_overdue) as overdue_tickets,
        max(source_updated_at) as last_source_updated_at
    from handling
    where
        created_week_start in (
            select affected_weeks.week_start from affected_weeks
            union
            select cast(affected_weeks.week_start - interval '7 days' as date) as week_start
            from affected_weeks
        )
    group by
        created_week_start,
        created_iso_week,
        coalesce(town_code, '未知'),
        coalesce(town_name, '未知镇街'),
        category

),

compared as (

    select
        cells.*,
        coalesce(previous.tickets, 0) as tickets_previous_week,
        sum(cells.tickets)
            over (partition by cells.week_start, cells.category)
            as category_tickets_in_week,
        cast(
            sum(cells.tickets) over (partition by cells.week_start, cells.category)
            / cast(town_count.towns as numeric)
            as numeric(10, 2)
        ) as category_mean_per_town,
        dense_rank()
            over (partition by cells.week_start order by cells.tickets desc)
            as rank_in_week
    from cells
    cross join town_count
    left join cells as previous
        on
            previous.week_start = cells.week_start - interval '7 days'
            and cells.town_code = previous.town_code
            and cells.category = previous.category
    where cells.week_start in (select affected_weeks.week_start from affected_weeks)

),

final as (

    select
        iso_week || '|' || town_code || '|' || category as hotspot_key,
        iso_week,
        week_start,
        town_code,
        town_name,
        category,
        cast(tickets as integer) as tickets,
        cast(overdue_tickets as integer) as overdue_tickets,
        cast(tickets_previous_week as integer) as tickets_previous_week,
        cast(category_tickets_in_week as integer) as category_tickets_in_week,
        category_mean_per_town,
        tickets >= {{ min_tickets }}
        and tickets >= {{ ratio }} * category_mean_per_town as is_hotspot,
        cast(rank_in_week as integer) as rank_in_week,
        last_source_updated_at
    from compared

)

select * from final
