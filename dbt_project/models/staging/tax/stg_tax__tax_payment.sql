-- One row per tax payment (payment_id: entity × tax period × tax type), its latest
-- version across batches.
with

source as (

    select * from {{ source('tax', 'tax__tax_payment') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['payment_id'],
            [
                'updated_at desc nulls last',
                '_batch_id desc',
                '_source_row desc'
            ]
        )
    }}

),

renamed as (

    select
        {{ clean_text('payment_id') }} as payment_id,
        {{ clean_identifier('uscc') }} as uscc,
        {{ clean_text('tax_period') }} as tax_period,
        {{ clean_text('tax_type') }} as tax_type,
        amount,
        paid_at,
        updated_at,
        _batch_id,
        _loaded_at
    from latest

),

checked as (

    select
        renamed.*,
        {{ uscc_problem('renamed.uscc') }} as uscc_problem,
        -- KP.DE.0405 pattern: YYYY-MM
        renamed.tax_period ~ '^\d{4}-(0[1-9]|1[0-2])$' as tax_period_is_wellformed
    from renamed

),

final as (

    select
        payment_id,
        uscc,
        uscc_problem,
        uscc is not null and uscc_problem is null as is_valid_uscc,
        tax_period,
        tax_period_is_wellformed,
        case when tax_period_is_wellformed then to_date(tax_period || '-01', 'YYYY-MM-DD') end
            as tax_period_start,
        tax_type,
        amount,
        paid_at,
        updated_at,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
