-- The air quality index of HJ 633-2012 in SQL: the same IAQI as govlake/sensors/aqi.py (the
-- tests compare them on many thousands of concentrations). Idempotent: applied by
-- govlake.sensors.aqi.apply_aqi_functions, which also loads standards.hj_633_2012_iaqi from
-- include/standards/code_sets/hj_633_2012_iaqi.csv — Table 1, the one breakpoint table
-- (dbt seeds the same CSV into the same table, so the functions work with or without dbt).
--
--   standards.iaqi(pollutant, period, c [, fallback])  IAQI, rounded up to an integer
--       pollutant: so2 | no2 | pm10 | co | o3 | pm25; period: 1h | 8h | 24h;
--       c in μg/m³ (co in mg/m³). NULL for NULL. Above the top of Table 1: 500. Table 1
--       notes 2 and 3 — so2/1h or o3/8h above 800 μg/m³ — give NULL, or with fallback
--       (SO2's 24-hour, O3's 1-hour average) the IAQI of that average. A negative c, an
--       unknown pollutant or period raise an error (SQLSTATE 22023).
--   standards.aqi_level(aqi)     1..6 (Table 2: 一级..六级)
--   standards.aqi_category(aqi)  优 | 良 | 轻度污染 | 中度污染 | 重度污染 | 严重污染
--
-- Bodies are strings (not BEGIN ATOMIC) so that dbt can drop and recreate the seed table
-- without dropping the functions; iaqi is STABLE because it reads that table.

create schema if not exists standards;

-- HJ 633-2012 Table 1: the columns of hj_633_2012_iaqi.csv, one row per segment.
create table if not exists standards.hj_633_2012_iaqi (
    code      text primary key,
    name      text not null,
    name_en   text,
    pollutant text not null,
    period    text not null,
    iaqi_lo   integer not null,
    iaqi_hi   integer not null,
    c_lo      numeric not null,
    c_hi      numeric not null,
    unit      text not null
);

create or replace function standards.iaqi(
    pollutant text, period text, c numeric, fallback numeric default null
)
returns integer
language plpgsql
stable
parallel safe
as $$
declare
    top_c numeric;
    top_iaqi integer;
    segment record;
    numerator numeric;
    span numeric;
    quotient numeric;
begin
    select max(b.c_hi), max(b.iaqi_hi) into top_c, top_iaqi
    from standards.hj_633_2012_iaqi as b
    where b.pollutant = iaqi.pollutant and b.period = iaqi.period;
    if top_c is null then
        raise exception using
            errcode = '22023',
            message = format(
                '没有分指数分段 no IAQI breakpoints for pollutant %L, period %L in HJ 633-2012 '
                'Table 1 (pollutants so2 no2 pm10 co o3 pm25; periods 1h 8h 24h)',
                iaqi.pollutant, iaqi.period
            ),
            hint = 'standards.hj_633_2012_iaqi is loaded by govlake standards load (or dbt seed)';
    end if;
    if c is null then
        return null;
    end if;
    if c < 0 then
        raise exception using
            errcode = '22023',
            message = format('%s %s: 浓度不能为负 concentration cannot be negative (%s)',
                             iaqi.pollutant, iaqi.period, c);
    end if;
    if c > top_c then
        if top_iaqi >= 500 then
            return 500;  -- HJ 633-2012 defines no index above 500
        end if;
        if fallback is null then
            return null;  -- Table 1 notes 2 and 3: not computed from this average
        end if;
        if iaqi.pollutant = 'so2' and iaqi.period = '1h' then
            return standards.iaqi('so2', '24h', fallback);
        end if;
        if iaqi.pollutant = 'o3' and iaqi.period = '8h' then
            return standards.iaqi('o3', '1h', fallback);
        end if;
        return null;
    end if;
    select b.iaqi_lo, b.iaqi_hi, b.c_lo, b.c_hi into segment
    from standards.hj_633_2012_iaqi as b
    where b.pollutant = iaqi.pollutant and b.period = iaqi.period
        and b.c_lo <= c and c <= b.c_hi
    order by b.c_lo
    limit 1;
    -- formula (1), rounded up, in exact arithmetic: div() truncates, the remainder decides
    numerator := (segment.iaqi_hi - segment.iaqi_lo) * (c - segment.c_lo);
    span := segment.c_hi - segment.c_lo;
    quotient := div(numerator, span);
    if numerator > quotient * span then
        quotient := quotient + 1;
    end if;
    return segment.iaqi_lo + quotient::integer;
end;
$$;

create or replace function standards.aqi_level(aqi integer)
returns integer
language sql
immutable
parallel safe
as $$
    select case
        when aqi is null or aqi < 0 then null
        when aqi <= 50 then 1
        when aqi <= 100 then 2
        when aqi <= 150 then 3
        when aqi <= 200 then 4
        when aqi <= 300 then 5
        else 6
    end
$$;

create or replace function standards.aqi_category(aqi integer)
returns text
language sql
immutable
parallel safe
as $$
    select (array['优', '良', '轻度污染', '中度污染', '重度污染', '严重污染'])[
        standards.aqi_level(aqi)
    ]
$$;
