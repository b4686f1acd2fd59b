-- Registration-status history of every market entity: one row per entity and status
-- spell (each time the status the registry reports changed, the first status observed
-- included), read from every version raw has kept.
--
-- This model reads the raw source, not staging: staging keeps only the latest version
-- of an entity, and the history is exactly what it throws away. It applies the same
-- trimming macros staging does.
with

source as (

    select * from {{ source('market', 'market__enterprise') }}

),

renamed as (

    select
        {{ clean_identifier('uscc') }} as uscc,
        {{ clean_text('status') }} as registration_status,
        established_date,
        closed_date,
        updated_at,
        _batch_id,
        _source_row
    from source

),

-- a version delivered in two batches (a re-extraction) counts once
versions as (

    {{
        latest_version(
            'renamed',
            ['uscc', 'updated_at'],
            [
                '_batch_id desc',
                '_source_row desc'
            ]
        )
    }}

),

compared as (

    select
        versions.*,
        lag(versions.registration_status) over (
            partition by versions.uscc order by versions.updated_at, versions._batch_id
        ) as previous_status,
        row_number() over (
            partition by versions.uscc order by versions.updated_at, versions._batch_id
        ) as version_seq
    from versions

),

spells as (

    select *
    from compared
    where
        version_seq = 1
        or registration_status is distinct from previous_status

),

sequenced as (

    select
        spells.*,
        row_number()
            over (partition by spells.uscc order by spells.updated_at, spells._batch_id)
            as status_seq,
        lead(spells.updated_at)
            over (partition by spells.uscc order by spells.updated_at, spells._batch_id)
            as superseded_at
    from spells

),

final as (

    select
        cast({{ surrogate_key(['uscc', 'updated_at']) }} as text) as status_change_id,
        cast(uscc as text) as uscc,
        cast(status_seq as integer) as status_seq,
        cast(registration_status as text) as registration_status,
        cast(case when version_seq > 1 then previous_status end as text) as previous_status,
        -- when the status took effect, as far as the register says: the deregistration
        -- date for 注销/吊销, the establishment date for the first status seen, else the
        -- day the registry recorded the change
        cast(
            case
                when
                    registration_status in ('注销', '吊销') and closed_date is not null
                    then closed_date
                when status_seq = 1 then established_date
                else cast(updated_at as date)
            end as date
        ) as effective_date,
        cast(updated_at as timestamp) as recorded_at,
        cast(superseded_at as timestamp) as superseded_at,
        cast(superseded_at is null as boolean) as is_current,
        cast(_batch_id as text) as _batch_id
    from sequenced

)

select * from final
