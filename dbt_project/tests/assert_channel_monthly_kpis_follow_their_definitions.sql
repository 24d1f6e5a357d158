{{ config(meta={"dagster": {"ref": {"name": "mart_channel_monthly"}}}) }}

-- The month's channel KPIs worked out a second way, from the daily mart's sums per channel:
-- ROMI = (revenue - spend) / spend x 100, CPL = spend / leads, CPA = spend / won, lead -> won.
-- And the 'paid' level is exactly the channels that reported spend that month.

with

daily as (

    select
        {{ month_start('day') }} as month,
        channel,
        sum(spend_rub) as spend_rub,
        sum(leads) as leads,
        sum(leads_won) as leads_won,
        sum(won_count) as won_count,
        sum(revenue_rub) as revenue_rub

    from {{ ref('mart_channel') }}
    group by 1, 2

),

expected as (

    select month, 'channel' as breakdown, channel, spend_rub, leads, leads_won, won_count, revenue_rub
    from daily
    union all
    select month, 'paid', '', sum(spend_rub), sum(leads), sum(leads_won), sum(won_count), sum(revenue_rub)
    from daily
    where spend_rub is not null
    group by month

),

mart as (

    select * from {{ ref('mart_channel_monthly') }}
    where breakdown in ('channel', 'paid')

)

select expected.month, expected.breakdown, expected.channel, mart.romi_pct, expected.spend_rub, expected.revenue_rub

from expected

full outer join mart
    on expected.month = mart.month
    and expected.breakdown = mart.breakdown
    and expected.channel = mart.channel

where mart.month is null
    or expected.month is null
    or abs(coalesce(mart.romi_pct, -1e9)
        - coalesce(100.0 * (expected.revenue_rub - expected.spend_rub) / nullif(expected.spend_rub, 0), -1e9)) > 0.0001
    or abs(coalesce(mart.cpl_rub, -1e9) - coalesce(expected.spend_rub / nullif(expected.leads, 0), -1e9)) > 0.0001
    or abs(coalesce(mart.cpa_rub, -1e9) - coalesce(expected.spend_rub / nullif(expected.won_count, 0), -1e9)) > 0.0001
    or abs(coalesce(mart.lead_to_won_pct, -1e9)
        - coalesce(100.0 * expected.leads_won / nullif(expected.leads, 0), -1e9)) > 0.0001
