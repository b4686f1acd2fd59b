-- One row per electronic licence (licence_no), its latest version across batches (the
-- daily JSON drop carries the licences issued or changed that day and no timestamp:
-- the newest batch wins).
with

source as (

    select * from {{ source('govdata', 'govdata__e_licence') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['licence_no'],
            [
                '_batch_id desc',
                '_source_row desc'
            ]
        )
    }}

),

renamed as (

    select
        {{ clean_text('licence_no') }} as licence_no,
        {{ clean_text('licence_type') }} as licence_type,
        {{ clean_text('holder_type') }} as holder_type,
        {{ clean_identifier('holder_id') }} as holder_id,
        {{ clean_text('holder_name') }} as holder_name,
        {{ clean_text('issuer') }} as issuer,
        issue_date,
        valid_until,
        {{ clean_text('status') }} as licence_status,
        _batch_id,
        _loaded_at,
        {{ batch_date('_batch_id') }} as batch_date
    from latest

),

checked as (

    select
        renamed.*,
        case
            when renamed.holder_type = '单位' then {{ uscc_problem('renamed.holder_id') }}
            else {{ citizen_id_problem('renamed.holder_id') }}
        end as holder_id_problem
    from renamed

),

final as (

    select
        licence_no,
        licence_type,
        holder_type,
        holder_id,
        holder_id_problem,
        holder_id is not null and holder_id_problem is null as is_valid_holder_id,
        case when holder_type = '个人' then holder_id end as holder_id_number,
        case when holder_type = '单位' then holder_id end as holder_uscc,
        holder_name,
        issuer,
        issue_date,
        coalesce(issue_date > batch_date, false) as issue_date_is_future,
        valid_until,
        licence_status,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
