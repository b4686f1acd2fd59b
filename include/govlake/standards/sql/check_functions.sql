-- Check algorithms of the national identifier standards, in SQL: the same verdicts and the
-- same reason texts as govlake/standards/checks.py (the tests compare them on many
-- thousands of values). Plain PL/pgSQL, no extension. Idempotent: applied by
-- govlake.standards.check_sql.apply_check_functions, which also loads standards.gbt_2260
-- from include/standards/code_sets/gbt_2260.csv (dbt seeds the same CSV into the same
-- table, so the functions work with or without dbt).
--
--   standards.citizen_id_problem(text [, date])  GB 11643-1999 citizen identity number
--   standards.uscc_problem(text)                 GB 32100-2015 unified social credit code
--   standards.cn_mobile_problem(text)            mainland mobile number
-- return NULL for a valid value, else the reason ('校验码错误 wrong check character: ...').
-- standards.is_valid_citizen_id / is_valid_uscc / is_valid_cn_mobile return booleans.
--
-- The functions are marked immutable although citizen_id_problem reads standards.gbt_2260:
-- the code set changes only with a new edition, and immutability lets them be used in
-- indexes and check constraints. Bodies are strings (not BEGIN ATOMIC) so that dbt can
-- drop and recreate the seed table without dropping the functions.

create schema if not exists standards;

-- GB/T 2260 division codes, current and historical: the columns of gbt_2260.csv.
create table if not exists standards.gbt_2260 (
    code        text primary key,
    name        text not null,
    level       text,
    parent_code text,
    valid_from  integer,
    valid_to    integer,
    status      text,
    history     text,
    sources     text
);

create or replace function standards.citizen_id_problem(value text, as_of date)
returns text
language plpgsql
immutable
parallel safe
as $$
declare
    weights constant integer[] := array[7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    total integer := 0;
    expected text;
    birth_year integer;
    birth_month integer;
    birth_day integer;
    month_days integer;
    birth date;
begin
    if value is null or value = '' then
        return '空值 empty value';
    end if;
    if value ~ '^[0-9]{15}$' then
        return '15位旧号码 legacy 15-digit number (pre-1999 format, no check character)';
    end if;
    if length(value) <> 18 then
        return format('长度错误 wrong length: %s characters, expected 18', length(value));
    end if;
    if value !~ '^[0-9]{17}[0-9X]$' then
        if value ~ '^[0-9]{17}x$' then
            return '校验码应为大写X lowercase check character x, expected uppercase X';
        end if;
        return '格式错误 wrong format: expected 17 digits and a digit or X';
    end if;
    if substr(value, 1, 2) not in (
        '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36',
        '37', '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62',
        '63', '64', '65', '71', '81', '82', '83'
    ) then
        return format('行政区划代码无效 unknown province code %s', substr(value, 1, 2));
    end if;
    if substr(value, 1, 6) not in ('810000', '820000', '830000')
        and not exists (
            select 1 from standards.gbt_2260 as division where division.code = substr(value, 1, 6)
        )
    then
        return format(
            '行政区划代码不存在 unknown area code %s: not in GB/T 2260, current or historical',
            substr(value, 1, 6)
        );
    end if;
    birth_year := substr(value, 7, 4)::integer;
    birth_month := substr(value, 11, 2)::integer;
    birth_day := substr(value, 13, 2)::integer;
    month_days := case
        when birth_month in (1, 3, 5, 7, 8, 10, 12) then 31
        when birth_month in (4, 6, 9, 11) then 30
        when birth_month = 2
            and ((birth_year % 4 = 0 and birth_year % 100 <> 0) or birth_year % 400 = 0) then 29
        when birth_month = 2 then 28
        else 0
    end;
    if birth_year < 1900 or birth_day < 1 or birth_day > month_days then
        return format('出生日期无效 invalid birth date %s', substr(value, 7, 8));
    end if;
    birth := make_date(birth_year, birth_month, birth_day);
    if as_of is not null and birth > as_of then
        return format(
            '出生日期晚于当前日期 birth date %s after %s',
            to_char(birth, 'YYYY-MM-DD'), to_char(as_of, 'YYYY-MM-DD')
        );
    end if;
    for pos in 1..17 loop
        total := total + substr(value, pos, 1)::integer * weights[pos];
    end loop;
    expected := substr('10X98765432', total % 11 + 1, 1);
    if substr(value, 18, 1) <> expected then
        return '校验码错误 wrong check character: expected ' || expected;
    end if;
    return null;
end
$$;

create or replace function standards.citizen_id_problem(value text)
returns text
language sql
immutable
parallel safe
as $$ select standards.citizen_id_problem(value, null::date) $$;

create or replace function standards.uscc_problem(value text)
returns text
language plpgsql
immutable
parallel safe
as $$
declare
    alphabet constant text := '0123456789ABCDEFGHJKLMNPQRTUWXY';  -- pragma: allowlist secret
    weights constant integer[] := array[
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
    ];
    org_weights constant integer[] := array[3, 7, 9, 10, 5, 8, 4, 2];
    outside text;
    code_point integer;
    org_total integer := 0;
    org_check integer;
    org_expected text;
    total integer := 0;
    expected text;
begin
    if value is null or value = '' then
        return '空值 empty value';
    end if;
    if length(value) <> 18 then
        return format('长度错误 wrong length: %s characters, expected 18', length(value));
    end if;
    outside := regexp_replace(value, '[0123456789ABCDEFGHJKLMNPQRTUWXY]', '', 'g');
    if outside <> '' then
        return '非法字符 characters outside the code alphabet: ' || outside;
    end if;
    if substr(value, 1, 1) not in ('1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'N', 'Y') then
        return format('登记管理部门代码无效 unknown registration authority %s', substr(value, 1, 1));
    end if;
    if substr(value, 1, 2) not in (
        '11', '12', '13', '19', '21', '29', '31', '32', '33', '34', '35', '39', '41', '49',
        '51', '52', '53', '59', '61', '62', '69', '71', '72', '79', '81', '89', '91', '92',
        '93', 'A1', 'A9', 'N1', 'N2', 'N3', 'N9', 'Y1'
    ) then
        return format(
            '机构类别代码无效 category %s not issued by authority %s',
            substr(value, 2, 1), substr(value, 1, 1)
        );
    end if;
    if substr(value, 3, 6) !~ '^[0-9]{6}$' then
        return format('行政区划码无效 division code %s is not 6 digits', substr(value, 3, 6));
    end if;
    -- GB 11714 organisation code: digits count as themselves, letters A=10 ... Z=35
    for pos in 1..8 loop
        code_point := ascii(substr(value, 8 + pos, 1));
        org_total := org_total + org_weights[pos] * case
            when code_point between 48 and 57 then code_point - 48
            else code_point - 55
        end;
    end loop;
    org_check := 11 - org_total % 11;
    org_expected := case org_check when 10 then 'X' when 11 then '0' else org_check::text end;
    if substr(value, 17, 1) <> org_expected then
        return '组织机构代码校验码错误 wrong organisation-code check character: expected '
            || org_expected;
    end if;
    for pos in 1..17 loop
        total := total + (strpos(alphabet, substr(value, pos, 1)) - 1) * weights[pos];
    end loop;
    expected := substr(alphabet, (31 - total % 31) % 31 + 1, 1);
    if substr(value, 18, 1) <> expected then
        return '校验码错误 wrong check character: expected ' || expected;
    end if;
    return null;
end
$$;

create or replace function standards.cn_mobile_problem(value text)
returns text
language sql
immutable
parallel safe
as $$
    select case
        when value is null or value = '' then '空值 empty value'
        when value !~ '^1[3-9][0-9]{9}$'
            then '手机号码格式错误 not an 11-digit mobile number starting 13-19'
    end
$$;

create or replace function standards.is_valid_citizen_id(value text)
returns boolean language sql immutable parallel safe
as $$ select standards.citizen_id_problem(value) is null $$;

create or replace function standards.is_valid_citizen_id(value text, as_of date)
returns boolean language sql immutable parallel safe
as $$ select standards.citizen_id_problem(value, as_of) is null $$;

create or replace function standards.is_valid_uscc(value text)
returns boolean language sql immutable parallel safe
as $$ select standards.uscc_problem(value) is null $$;

create or replace function standards.is_valid_cn_mobile(value text)
returns boolean language sql immutable parallel safe
as $$ select standards.cn_mobile_problem(value) is null $$;
