-- One row per overseas-Chinese roster entry (newest roster snapshot) whose domestic
-- identity number points at a person the police register says is dead, has moved away,
-- or does not know — the entries to verify before paying any subsidy (侨务补贴核查):
--
--   deceased   police person_status 死亡 (death_date given)
--   moved_out  police person_status 迁出 (the newest 迁出 move gives date and destination)
--   unknown    no police record carries the identity number (id_number_problem says
--              whether the number itself fails its GB 11643 check)
--
-- Entries without a domestic identity number (most overseas Chinese abroad) cannot be
-- checked against the police register and are not listed.
with

roster as (

    select * from {{ ref('stg_overseas__overseas_chinese') }}
    where id_number is not null

),

persons as (

    select
        id_number,
        name,
        person_status,
        death_date,
        in_police_register,
        police_person_id
    from {{ ref('population') }}

),

moves_out as (

    select
        ranked.id_number,
        ranked.move_date,
        ranked.to_address
    from (
        select
            moves.id_number,
            moves.move_date,
            moves.to_address,
            row_number() over (
                partition by moves.id_number
                order by moves.move_date desc nulls last, moves.move_id desc
            ) as move_rank
        from {{ ref('stg_police__residence_move') }} as moves
        where moves.move_type = '迁出' and moves.id_number is not null
    ) as ranked
    where ranked.move_rank = 1

),

checked as (

    select
        roster.*,
        persons.name as police_name,
        persons.person_status as police_person_status,
        persons.police_person_id,
        persons.death_date,
        moves_out.move_date as move_out_date,
        moves_out.to_address as move_out_destination,
        case
            when not coalesce(persons.in_police_register, false) then 'unknown'
            when persons.person_status = '死亡' then 'deceased'
            when persons.person_status = '迁出' then 'moved_out'
        end as verification_reason
    from roster
    left join persons on roster.id_number = persons.id_number
    left join moves_out on roster.id_number = moves_out.id_number

),

final as (

    select
        roster_id,
        name,
        id_number,
        id_number_problem,
        is_valid_id_number,
        overseas_category,
        country,
        hometown_town_code,
        registered_date,
        verification_reason,
        case verification_reason
            when 'deceased' then '公安户籍登记已死亡'
            when 'moved_out' then '公安户籍已迁出'
            when 'unknown' then '公安户籍查无此人'
        end as verification_reason_zh,
        police_person_id,
        police_name,
        (police_name is not distinct from name) as name_matches_police,
        police_person_status,
        death_date,
        move_out_date,
        move_out_destination,
        possible_duplicate_of,
        _batch_id
    from checked
    where verification_reason is not null

)

select * from final
