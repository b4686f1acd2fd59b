-- 其他部门持有的每个身份证号（社保、民政、侨务名册）都在人口库中（未在公安登记者为未知身份）。
-- Every identity number hrss, civil affairs or the overseas roster holds is a population
-- row (an unknown identity when police does not know it). Rows returned fail.
with

department_identities as (

    select
        id_number,
        'hrss.social_insurance' as source_resource
    from {{ ref('stg_hrss__social_insurance') }}
    union
    select
        id_number,
        'civil.low_income' as source_resource
    from {{ ref('stg_civil__low_income') }}
    union
    select
        id_number,
        'overseas.overseas_chinese' as source_resource
    from {{ ref('stg_overseas__overseas_chinese') }}

),

population as (

    select id_number from {{ ref('population') }}

)

select department_identities.*
from department_identities
left join population
    on department_identities.id_number = population.id_number
where
    department_identities.id_number is not null
    and population.id_number is null
