-- One row per safety inspection (inspection_id), its latest version across batches. The
-- daily CSV drop carries the day's inspections and the earlier ones it updated (a
-- follow-up that finds the hazards rectified sets rectified_date on every inspection of
-- that chain): the newest source updated_at wins, then the newest batch.
with

source as (

    select * from {{ source('emergency', 'emergency__safety_inspection') }}

),

latest as (

    {{
        latest_version(
            'source',
            ['inspection_id'],
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
        {{ clean_text('inspection_id') }} as inspection_id,
        {{ clean_identifier('uscc') }} as uscc,
        inspection_date,
        {{ clean_text('inspector_unit') }} as inspector_unit,
        {{ clean_text('inspection_type') }} as inspection_type,
        cast(hazards_found as integer) as hazards_found,
        cast(major_hazards as integer) as major_hazards,
        {{ clean_text('hazard_level') }} as hazard_level,
        rectification_due,
        rectified_date,
        {{ clean_text('result') }} as result,
        updated_at,
        _batch_id,
        _loaded_at,
        {{ batch_date('_batch_id') }} as batch_date
    from latest

),

checked as (

    select
        renamed.*,
        {{ uscc_problem('renamed.uscc') }} as uscc_problem
    from renamed

),

final as (

    select
        inspection_id,
        uscc,
        uscc_problem,
        uscc is not null and uscc_problem is null as is_valid_uscc,
        inspection_date,
        coalesce(inspection_date > batch_date, false) as inspection_date_is_future,
        inspector_unit,
        inspection_type,
        inspection_type = '复查' as is_follow_up,
        hazards_found,
        major_hazards,
        coalesce(hazards_found > 0, false) as has_hazards,
        hazard_level,
        rectification_due,
        rectified_date,
        coalesce(rectified_date > rectification_due, false) as is_rectified_late,
        result,
        updated_at,
        _batch_id,
        _loaded_at
    from checked

)

select * from final
