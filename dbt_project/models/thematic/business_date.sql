-- One row: the business date (业务日期) the thematic and special-topic libraries are
-- computed as of. The dbt var `business_date` ('YYYY-MM-DD') sets it; without the var it
-- is the newest business date present in the raw batches (batch ids start with the
-- business date they deliver: 20261103-incr), never the wall clock. The 12-month window
-- of the activity rules (zombie enterprises, tax regularity) ends on it.
{%- set raw_tables = [
    ('police', 'police__person'), ('police', 'police__household'),
    ('police', 'police__residence_move'), ('market', 'market__enterprise'),
    ('hrss', 'hrss__social_insurance'), ('tax', 'tax__tax_payment'),
    ('overseas', 'overseas__overseas_chinese'), ('civil', 'civil__low_income'),
    ('natres', 'natres__real_estate'), ('govdata', 'govdata__e_licence'),
    ('govdata', 'govdata__hotline_ticket'),
] %}
{%- set configured = var('business_date', none) %}
with

batches as (
    {%- for department, table in raw_tables %}

        select max(_batch_id) as newest_batch_id
        from {{ source(department, table) }}
        where _batch_id ~ '^\d{8}'
        {%- if not loop.last %}

            union all
        {%- endif %}
    {%- endfor %}

),

derived as (

    select max({{ batch_date('newest_batch_id') }}) as newest_batch_date
    from batches

),

final as (

    select
        {%- if configured %}
            cast('{{ configured }}' as date) as business_date,
            'var' as business_date_source,
        {%- else %}
            newest_batch_date as business_date,
            'raw batches' as business_date_source,
        {%- endif %}
        newest_batch_date
    from derived

)

select
    business_date,
    -- the 12-month activity window: (business date - 12 months, business date]
    cast(business_date - interval '12 months' + interval '1 day' as date) as window_start,
    business_date as window_end,
    -- end of the business day: what "as of the business date" means for timestamps
    cast(business_date + interval '1 day' as timestamp) as as_of_timestamp,
    business_date_source,
    newest_batch_date
from final
