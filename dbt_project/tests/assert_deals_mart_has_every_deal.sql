{{ config(meta={"dagster": {"ref": {"name": "mart_deals"}}}) }}

-- The deal list shows every canonical deal once, with the same rubles. The mart's amounts are doubles:
-- summed as exact cents, or the sum of a quarter of a million of them drifts by cents (L world).

with

mart as (

    select count(*) as n, coalesce(sum(cast(amount_rub as numeric(18, 2))), 0) as rub from {{ ref('mart_deals') }}

),

deals as (

    select count(*) as n, coalesce(sum(amount_rub), 0) as rub from {{ ref('deal') }}

)

select mart.n, deals.n as deal_n

from mart

cross join deals

where mart.n <> deals.n or abs(mart.rub - deals.rub) > 0.005
