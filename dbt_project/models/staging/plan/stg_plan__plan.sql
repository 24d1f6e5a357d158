-- One row per plan line of the plan sheet: month x manager x pipeline.

with

source as (

    select * from {{ source('raw_plan', 'plan') }}

),

renamed as (

    select
        -- "2025-01" (or a date, if the loader parsed it) -> the month's first day
        cast(left({{ raw_text('"month"') }}, 7) || '-01' as date) as month,
        {{ raw_int('manager_id') }} as manager_id,
        {{ raw_int('pipeline_id') }} as pipeline_id,
        {{ raw_money('amount_rub') }} as plan_rub,
        {{ raw_int('deal_count') }} as plan_deal_count,
        {{ raw_decimal('bonus_threshold_pct', 2) }} as bonus_threshold_pct,
        {{ raw_money('bonus_rub') }} as bonus_rub

    from source

)

select * from renamed
