{#-
    Parsing Kaiping addresses into the levels of the standard address library (标准地址):
    开平市 <town> <village/community> <road> <number>号 [<n>栋] [<n>单元] [<n>室].

    parse_address(relation, text_column) is a query (use it as a CTE's body) selecting
    every column of `relation` plus:

      compact_address        the text with white space removed, full-width digits and
                             dashes made half-width, 號 written 号
      parsed_town_code       kp_town code of the town the text names (after an optional
                             广东省 / 江门市 / 开平市 prefix), by its full name
      parsed_town_name, locality_name, road_name, house_number, building_no, unit_no,
      room_no                the components found, in order; parsing stops at the first
                             level it cannot read
      unparsed_remainder     what follows the last component read ('' when nothing)
      is_complete            town, village/community, road and number all found
      standard_address_text  the canonical text of a complete address:
                             开平市 + town + locality + road + number 号 [栋] [单元] [室]

    Villages end in 村 (the last of a run: 泮村村 is one village), communities in 社区 or
    居委会; roads in 大道, 路, 街 or 巷. The components may not contain digits, so a
    number is never swallowed into a name.

    Each step is a MATERIALIZED common table expression: inlined, every step would carry
    the expressions of all the steps before it, and PostgreSQL would evaluate the first
    regular expressions hundreds of times per row. The helper columns of the steps
    (compact_address, after_city, after_town, ...) stay in the result.
-#}

{% macro parse_address(relation, text_column) -%}
    {{ return(adapter.dispatch('parse_address', 'kaiping')(relation, text_column)) }}
{%- endmacro %}

{% macro default__parse_address(relation, text_column) -%}
    with

    compacted as materialized (
        select
            addresses.*,
            translate(
                regexp_replace(addresses.{{ text_column }}, '[[:space:]\u3000]+', '', 'g'),
                '０１２３４５６７８９－號',
                '0123456789-号'
            ) as compact_address
        from {{ relation }} as addresses
    ),

    city as materialized (
        select
            compacted.*,
            regexp_replace(compacted.compact_address, '^(广东省)?(江门市)?(开平市)?', '') as after_city
        from compacted
    ),

    town as materialized (
        -- no town name is the beginning of another, so at most one town matches
        select
            city.*,
            cast(towns.code as text) as parsed_town_code,
            towns.name as parsed_town_name,
            substr(city.after_city, char_length(towns.name) + 1) as after_town
        from city
        left join {{ ref('kp_town') }} as towns
            on starts_with(city.after_city, towns.name)
    ),

    locality as materialized (
        select
            town.*,
            coalesce(
                substring(town.after_town from '^([^0-9路街巷号]+?(?:社区|居委会))'),
                substring(town.after_town from '^([^0-9路街巷号]+?村)(?!村)')
            ) as locality_name
        from town
    ),

    after_locality as materialized (
        select
            locality.*,
            substr(locality.after_town, coalesce(char_length(locality.locality_name), 0) + 1)
                as after_locality
        from locality
    ),

    road as materialized (
        select
            after_locality.*,
            substring(after_locality.after_locality from '^([^0-9号]+?(?:大道|路|街|巷))') as road_name
        from after_locality
    ),

    after_road as materialized (
        select
            road.*,
            substr(road.after_locality, coalesce(char_length(road.road_name), 0) + 1) as after_road
        from road
    ),

    house as materialized (
        select
            after_road.*,
            substring(after_road.after_road from '^([0-9]+(?:-[0-9]+)?)号') as house_number
        from after_road
    ),

    after_house as materialized (
        select
            house.*,
            case
                when house.house_number is not null
                    then substr(house.after_road, char_length(house.house_number) + 2)
            end as after_house
        from house
    ),

    detail as materialized (
        select
            after_house.*,
            regexp_match(
                after_house.after_house,
                '^(?:([0-9]+)(?:栋|幢|座))?(?:([0-9]+)单元)?(?:([0-9]+)(?:室|房))?(.*)$'
            ) as detail_parts
        from after_house
    ),

    parsed as (
        select
            detail.*,
            detail.detail_parts[1] as building_no,
            detail.detail_parts[2] as unit_no,
            detail.detail_parts[3] as room_no,
            (
                detail.parsed_town_code is not null
                and detail.locality_name is not null
                and detail.road_name is not null
                and detail.house_number is not null
            ) as is_complete
        from detail
    )

    select
        parsed.*,
        coalesce(
            parsed.detail_parts[4],
            parsed.after_house,
            parsed.after_road,
            parsed.after_locality,
            parsed.after_town,
            parsed.after_city
        ) as unparsed_remainder,
        case
            when parsed.is_complete
                then '开平市' || parsed.parsed_town_name || parsed.locality_name || parsed.road_name
                    || parsed.house_number || '号'
                    || coalesce(parsed.building_no || '栋', '')
                    || coalesce(parsed.unit_no || '单元', '')
                    || coalesce(parsed.room_no || '室', '')
        end as standard_address_text
    from parsed
{%- endmacro %}
