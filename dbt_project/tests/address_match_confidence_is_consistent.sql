-- 匹配可信度与匹配结果一致：exact 的原文即标准地址全称；exact/normalised 指向门牌及以下层级；
-- town_only 指向镇级地址；unmatched 没有标准地址。
-- The confidence agrees with what was matched: exact means the source text is the
-- standard address; exact and normalised point below the town level; town_only points
-- at a town-level address; unmatched points nowhere. Rows returned fail.
with

matches as (

    select * from {{ ref('address_match') }}

),

standard_addresses as (

    select
        address_id,
        address_level,
        standard_address
    from {{ ref('standard_address') }}

)

select
    matches.address_match_id,
    matches.match_confidence,
    standard_addresses.address_level
from matches
left join standard_addresses
    on matches.standard_address_id = standard_addresses.address_id
where
    (
        matches.match_confidence = 'exact'
        and matches.source_address is distinct from standard_addresses.standard_address
    )
    or (
        matches.match_confidence in ('exact', 'normalised')
        and standard_addresses.address_level is not distinct from 'town'
    )
    or (
        matches.match_confidence in ('exact', 'normalised')
        and standard_addresses.address_id is null
    )
    or (
        matches.match_confidence = 'town_only'
        and standard_addresses.address_level is distinct from 'town'
    )
    or (matches.match_confidence = 'unmatched' and matches.standard_address_id is not null)
