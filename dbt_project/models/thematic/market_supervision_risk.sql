-- One row per existing or operating market entity (存续/在业): the market-supervision
-- risk flags read from its business activity, whether it belongs on the list of
-- abnormal operation (经营异常), and a risk level.
--
-- Flags (each documented in docs/libraries_thematic_special.md):
--   flag_zombie                 no tax and no social insurance for 12 months (zombie_enterprise)
--   flag_no_tax_12m             existed the whole window, not a cooperative, no tax paid in it
--   flag_tax_irregular          paid fewer than half of its expected tax periods
--   flag_address_unverified     registered address not matched to a standard address
--                               below town level (address_match: town_only / unmatched)
--   flag_expired_licence        holds a licence still marked 有效 whose validity has ended
--   flag_no_business_licence    no valid electronic business licence (营业执照)
--   flag_legal_rep_deceased     the legal representative is dead in the police register
--   flag_legal_rep_many_entities the legal representative represents >= var
--                               market_risk_many_entities (5) existing entities
--
-- is_abnormal_operation (经营异常, modelled on the reasons of 《企业经营异常名录管理暂行办法》):
-- cannot be reached at the registered address (flag_address_unverified), or has stopped
-- operating without deregistering (flag_zombie).
-- risk_level: 高 abnormal operation or >= 3 flags; 中 1-2 flags; 低 none.
{%- set many_entities = var('market_risk_many_entities', 5) %}
with

activity as (

    select * from {{ ref('enterprise_activity') }}
    where is_active

),

zombies as (

    select uscc from {{ ref('zombie_enterprise') }}

),

entity_addresses as (

    select
        source_record_id as uscc,
        match_confidence
    from {{ ref('address_match') }}
    where source_resource = 'market.enterprise'

),

persons as (

    select
        id_number,
        person_status
    from {{ ref('population') }}

),

representation as (

    select
        legal_rep_id_number,
        count(*) as represented_entities
    from activity
    where legal_rep_id_number is not null
    group by legal_rep_id_number

),

flagged as (

    select
        activity.*,
        entity_addresses.match_confidence as address_match_confidence,
        coalesce(representation.represented_entities, 0) as legal_rep_entities,
        zombies.uscc is not null as flag_zombie,
        activity.existed_whole_window
        and activity.entity_category <> '农民专业合作社'
        and activity.tax_payments_12m = 0 as flag_no_tax_12m,
        coalesce(activity.tax_regularity < 0.5, false) as flag_tax_irregular,
        coalesce(entity_addresses.match_confidence not in ('exact', 'normalised'), true)
            as flag_address_unverified,
        activity.expired_licences > 0 as flag_expired_licence,
        not activity.has_valid_business_licence as flag_no_business_licence,
        coalesce(persons.person_status = '死亡', false) as flag_legal_rep_deceased,
        coalesce(representation.represented_entities >= {{ many_entities }}, false)
            as flag_legal_rep_many_entities
    from activity
    left join zombies on activity.uscc = zombies.uscc
    left join entity_addresses on activity.uscc = entity_addresses.uscc
    left join persons on activity.legal_rep_id_number = persons.id_number
    left join representation on activity.legal_rep_id_number = representation.legal_rep_id_number

),

scored as (

    select
        flagged.*,
        flagged.flag_address_unverified or flagged.flag_zombie as is_abnormal_operation,
        cast(flagged.flag_zombie as integer)
        + cast(flagged.flag_no_tax_12m as integer)
        + cast(flagged.flag_tax_irregular as integer)
        + cast(flagged.flag_address_unverified as integer)
        + cast(flagged.flag_expired_licence as integer)
        + cast(flagged.flag_no_business_licence as integer)
        + cast(flagged.flag_legal_rep_deceased as integer)
        + cast(flagged.flag_legal_rep_many_entities as integer) as risk_flag_count
    from flagged

),

final as (

    select
        uscc,
        name,
        entity_type,
        entity_category,
        registration_status,
        town_code,
        industry_section_code,
        legal_rep_name,
        legal_rep_id_number,
        flag_zombie,
        flag_no_tax_12m,
        flag_tax_irregular,
        flag_address_unverified,
        flag_expired_licence,
        flag_no_business_licence,
        flag_legal_rep_deceased,
        flag_legal_rep_many_entities,
        cast(risk_flag_count as integer) as risk_flag_count,
        is_abnormal_operation,
        nullif(concat_ws(
            '；',
            case
                when flag_address_unverified then '通过登记的住所无法核实 registered address not verifiable'
            end,
            case
                when flag_zombie then '连续12个月无纳税无社保 no tax and no social insurance for 12 months'
            end
        ), '') as abnormal_operation_reason,
        case
            when is_abnormal_operation or risk_flag_count >= 3 then '高'
            when risk_flag_count >= 1 then '中'
            else '低'
        end as risk_level,
        address_match_confidence,
        cast(legal_rep_entities as integer) as legal_rep_entities,
        tax_regularity,
        business_date
    from scored

)

select * from final
