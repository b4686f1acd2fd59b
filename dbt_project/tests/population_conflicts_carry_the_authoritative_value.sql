-- 冲突表中的权威值就是人口库中该属性的值，且与其他来源的值确实不同。
-- A conflict's authoritative value is the population library's value of that attribute,
-- and really differs from the other source's value. Rows returned fail.
with

conflicts as (

    select * from {{ ref('population_conflicts') }}

),

population as (

    select
        id_number,
        name,
        sex_code,
        town_code
    from {{ ref('population') }}

)

select
    conflicts.conflict_id,
    conflicts.attribute,
    conflicts.authoritative_value,
    conflicts.other_value
from conflicts
inner join population
    on conflicts.id_number = population.id_number
where
    conflicts.authoritative_value is distinct from
    case conflicts.attribute
        when 'name' then population.name
        when 'sex_code' then population.sex_code
        when 'town_code' then population.town_code
    end
    or conflicts.authoritative_value is not distinct from conflicts.other_value
