-- One row per plan line of the plan sheet: month x manager x pipeline.
-- Empty when the company has no plan sheet (PLAN_FILE unset outside demo mode): actuals without a plan.
-- Optional columns (the bonus ones) may be absent from a company's sheet: dlt never creates an
-- all-empty column, so every column is read through optional_column.
{% set cols = raw_source_columns('raw_plan', 'plan') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_plan', 'plan') }}

),

renamed as (

    select
        -- "2025-01" (or a date, if the loader parsed it) -> the month's first day
        cast(left({{ raw_text(optional_column(cols, 'month')) }}, 7) || '-01' as date) as month,
        {{ raw_int(optional_column(cols, 'manager_id')) }} as manager_id,
        {{ raw_int(optional_column(cols, 'pipeline_id')) }} as pipeline_id,
        {{ raw_money(optional_column(cols, 'amount_rub')) }} as plan_rub,
        {{ raw_int(optional_column(cols, 'deal_count')) }} as plan_deal_count,
        {{ raw_decimal(optional_column(cols, 'bonus_threshold_pct'), 2) }} as bonus_threshold_pct,
        {{ raw_money(optional_column(cols, 'bonus_rub')) }} as bonus_rub

    from source

)

select * from renamed
