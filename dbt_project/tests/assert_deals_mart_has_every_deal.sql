{{ config(meta={"dagster": {"ref": {"name": "mart_deals"}}}) }}

-- The deal list shows every canonical deal once, with the same rubles.

with

mart as (

    select count(*) as n, coalesce(sum(amount_rub), 0) as rub from {{ ref('mart_deals') }}

),

deals as (

    select count(*) as n, cast(coalesce(sum(amount_rub), 0) as double precision) as rub from {{ ref('deal') }}

)

select mart.n, deals.n as deal_n

from mart

cross join deals

where mart.n <> deals.n or abs(mart.rub - deals.rub) > 0.005
