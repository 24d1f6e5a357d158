{{ config(meta={"dagster": {"ref": {"name": "mart_channel"}}}, severity="warn") }}

-- Channel revenue adds up to the won deals (every won deal is attributed to exactly one channel),
-- and channel leads to the CRM's leads.

with

mart as (

    select
        coalesce(sum(revenue_rub), 0) as revenue_rub,
        coalesce(sum(won_count), 0) as won_count,
        coalesce(sum(leads), 0) as leads

    from {{ ref('mart_channel') }}

),

crm as (

    select
        (select cast(coalesce(sum(amount_rub), 0) as double precision) from {{ ref('deal') }} where is_won)
            as revenue_rub,
        (select count(*) from {{ ref('deal') }} where is_won) as won_count,
        (select count(*) from {{ ref('lead') }}) as leads

)

select mart.*, crm.revenue_rub as crm_revenue_rub

from mart

cross join crm

where abs(mart.revenue_rub - crm.revenue_rub) > 0.005
    or mart.won_count <> crm.won_count
    or mart.leads <> crm.leads
