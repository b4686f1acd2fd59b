-- The standards' tables in the governance schema. Idempotent: applied by
-- govlake.standards.governance.load_into_governance after governance/schema.sql (which
-- owns governance.data_element; the columns the standards add are added here).

alter table governance.data_element
    add column if not exists definition text,
    add column if not exists format text,
    add column if not exists unit text,
    add column if not exists range_min numeric,
    add column if not exists range_max numeric;

create table if not exists governance.code_set (
    id        text primary key,
    name_zh   text not null,
    name_en   text not null,
    standard  text,
    edition   text not null,
    source    text,
    file      text not null,
    note      text,
    columns   text[] not null,
    loaded_at timestamptz not null default now()
);

create table if not exists governance.code_value (
    code_set   text not null references governance.code_set (id) on delete cascade,
    code       text not null,
    name       text not null,
    name_en    text,
    position   int  not null,
    attributes jsonb not null default '{}',  -- the code set's other columns
    primary key (code_set, code)
);

create table if not exists governance.code_mapping (
    mapping       text not null,  -- <department>__<field>
    department    text not null,
    field         text not null,
    local_code    text not null,
    standard_code text not null,
    code_set      text not null,
    primary key (mapping, local_code),
    foreign key (code_set, standard_code) references governance.code_value (code_set, code)
);

create table if not exists governance.business_term (
    id         text primary key,
    term       text not null unique,
    term_en    text,
    category   text,
    definition text not null,
    synonyms   text[] not null default '{}',
    basis      text
);

create table if not exists governance.term_element (
    term_id    text not null references governance.business_term (id) on delete cascade,
    element_id text not null references governance.data_element (id),
    position   int  not null,
    primary key (term_id, element_id)
);
