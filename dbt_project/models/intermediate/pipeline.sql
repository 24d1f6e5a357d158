-- Canonical pipeline (Bitrix24 deal category). The default pipeline 0 is not always listed by
-- crm.category.list, so pipelines that only appear through their stages are added with a name.

with

pipelines as (

    select * from {{ ref('stg_bitrix24__pipelines') }}

),

stage_pipelines as (

    select distinct pipeline_id from {{ ref('stage') }}

),

final as (

    select
        coalesce(pipelines.pipeline_id, stage_pipelines.pipeline_id) as pipeline_id,
        coalesce(
            pipelines.pipeline_name,
            case
                when stage_pipelines.pipeline_id = 0 then 'Общая'
                else 'Воронка ' || cast(stage_pipelines.pipeline_id as varchar)
            end
        ) as pipeline_name,
        coalesce(pipelines.sort_order, 0) as sort_order

    from pipelines

    full outer join stage_pipelines
        on pipelines.pipeline_id = stage_pipelines.pipeline_id

)

select * from final
