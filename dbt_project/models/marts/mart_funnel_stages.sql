-- The report's funnel (page Воронка): stage conversion and time in stage (docs/KPI.md) by month of
-- entering x pipeline x stage, for the whole company, each department and each manager (scope_type
-- company / department / manager, scope_name the department's or manager's name), for all weekdays
-- (entered_weekday 0) and for each ISO weekday of entering 1..7 (the heat-map stages x weekdays).
-- Every figure is computed here on the entries themselves, so the medians are true medians of the
-- scope and the page never divides or averages: it picks the scope its filters name.
--   entered, advanced, conversion_pct = advanced / entered x 100,
--   median_days_in_stage = median of left_at - entered_at over the stays that have ended (days).

{% set scopes = [
    ('company', 'cast(null as bigint)', "'Вся компания'"),
    ('department', 'managers.department_id', "coalesce(departments.department_name, 'Без отдела')"),
    ('manager', 'entries.manager_id', "coalesce(managers.manager_name, 'Без менеджера')"),
] %}

with

entries as (

    select * from {{ ref('int_stage_entries') }}

),

stages as (

    select * from {{ ref('stage') }}

),

pipelines as (

    select * from {{ ref('pipeline') }}

),

managers as (

    select * from {{ ref('manager') }}

),

departments as (

    select * from {{ ref('department') }}

),

scoped as (

    {% for scope_type, scope_id, scope_name in scopes %}
    select
        '{{ scope_type }}' as scope_type,
        {{ scope_id }} as scope_id,
        {{ scope_name }} as scope_name,
        entries.entered_month,
        entries.pipeline_id,
        entries.stage_id,
        entries.stage_sort,
        entries.entered_weekday,
        entries.has_advanced,
        entries.days_in_stage

    from entries

    left join managers
        on entries.manager_id = managers.manager_id

    left join departments
        on managers.department_id = departments.department_id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

grouped as (

    select
        scope_type,
        scope_id,
        scope_name,
        entered_month,
        pipeline_id,
        stage_id,
        min(stage_sort) as stage_sort,
        coalesce(entered_weekday, 0) as entered_weekday,
        count(*) as entered,
        sum(case when has_advanced then 1 else 0 end) as advanced,
        {{ median('days_in_stage') }} as median_days_in_stage

    from scoped
    group by grouping sets (
        (scope_type, scope_id, scope_name, entered_month, pipeline_id, stage_id),
        (scope_type, scope_id, scope_name, entered_month, pipeline_id, stage_id, entered_weekday)
    )

),

final as (

    select
        grouped.entered_month as month,
        grouped.scope_type,
        grouped.scope_id,
        grouped.scope_name,
        grouped.pipeline_id,
        pipelines.pipeline_name,
        grouped.stage_id,
        stages.stage_name,
        grouped.stage_sort,
        grouped.entered_weekday,
        cast(grouped.entered as bigint) as entered,
        cast(grouped.advanced as bigint) as advanced,
        cast(round(cast(100.0 * grouped.advanced / grouped.entered as numeric(38, 10)), 2) as double precision)
            as conversion_pct,
        cast(grouped.median_days_in_stage as double precision) as median_days_in_stage

    from grouped

    left join stages
        on grouped.stage_id = stages.stage_id

    left join pipelines
        on grouped.pipeline_id = pipelines.pipeline_id

)

select * from final
