-- One row per deal pipeline (crm.category.list, entityTypeId 2).

with

source as (

    select * from {{ source('raw_bitrix24', 'pipelines') }}

),

renamed as (

    select
        {{ raw_int('id') }} as pipeline_id,
        {{ raw_text('name') }} as pipeline_name,
        {{ raw_int('sort') }} as sort_order

    from source

)

select * from renamed
