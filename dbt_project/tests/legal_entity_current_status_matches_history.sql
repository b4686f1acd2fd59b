-- 每个市场主体恰有一段当前状态，且与法人库的登记状态一致。
-- Every entity has exactly one current status spell, and it is the status legal_entity
-- carries. Rows returned fail.
with

current_spells as (

    select
        uscc,
        count(*) as current_count,
        max(registration_status) as registration_status
    from {{ ref('legal_entity_status_history') }}
    where is_current
    group by uscc

),

legal_entities as (

    select
        uscc,
        registration_status
    from {{ ref('legal_entity') }}

)

select
    legal_entities.uscc,
    legal_entities.registration_status,
    current_spells.registration_status as history_status,
    current_spells.current_count
from legal_entities
left join current_spells
    on legal_entities.uscc = current_spells.uscc
where
    current_spells.current_count is distinct from 1
    or current_spells.registration_status is distinct from legal_entities.registration_status
