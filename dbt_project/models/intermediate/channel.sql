-- Canonical channel (lead / deal source): the CRM's source list (Bitrix24 crm.status SOURCE).

with

statuses as (

    select * from {{ ref('stg_bitrix24__stages') }}

),

final as (

    select
        status_id as channel,
        min(status_name) as channel_name

    from statuses
    where entity_id = 'SOURCE'
    group by status_id

)

select * from final
