-- 人口库与公安户籍一致：户籍中的每个身份证号在人口库中恰有一行且标为在册，人口库中标为在册的号码都在户籍中。
-- Every identity number of the police register is exactly one population row marked
-- in_police_register, and every row so marked is in the register. Rows returned fail.
with

police as (

    select distinct id_number
    from {{ ref('stg_police__person') }}
    where id_number is not null

),

population as (

    select
        id_number,
        in_police_register
    from {{ ref('population') }}

),

missing as (

    select
        police.id_number,
        'in police, not marked in population' as problem
    from police
    left join population
        on police.id_number = population.id_number
    where population.in_police_register is not true

),

extra as (

    select
        population.id_number,
        'marked in population, not in police' as problem
    from population
    left join police
        on population.id_number = police.id_number
    where
        population.in_police_register
        and police.id_number is null

)

select * from missing
union all
select * from extra
