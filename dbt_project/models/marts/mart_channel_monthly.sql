-- Channel economics by month (docs/KPI.md "Channel economics"), as the report's Источники and
-- Директор pages show them, at four levels (breakdown):
--   channel    per CRM channel
--   campaign   per channel x utm_campaign (an ad platform's campaign is its utm_campaign)
--   utm        per utm_source x utm_medium
--   paid       the month's advertising as a whole: the channels with spend reported that month
--              (revenue of unpaid channels such as referrals is no return on ad money)
-- spend_rub is null where no ad platform reported any (unknown, not zero), and so are CPL, CPA and
-- ROMI. The KPIs are computed here on the month's sums, never averaged from days:
--   cpl_rub = spend / leads, cpa_rub = spend / won deals, romi_pct = (revenue - spend) / spend x 100,
--   lead_to_won_pct = leads that became a won deal / leads (the month's lead cohort) x 100.

with

daily as (

    select
        {{ month_start('day') }} as month,
        *

    from {{ ref('mart_channel') }}

),

paid_channels as (

    select month, channel
    from daily
    group by 1, 2
    having sum(spend_rub) is not null

),

levels as (

    select month, 'channel' as breakdown, channel, '' as utm_source, '' as utm_medium, '' as utm_campaign,
           spend_rub, leads, leads_won, won_count, revenue_rub
    from daily
    union all
    select month, 'campaign', channel, '', '', utm_campaign,
           spend_rub, leads, leads_won, won_count, revenue_rub
    from daily
    union all
    select month, 'utm', '', utm_source, utm_medium, '',
           spend_rub, leads, leads_won, won_count, revenue_rub
    from daily
    union all
    select daily.month, 'paid', '', '', '', '',
           daily.spend_rub, daily.leads, daily.leads_won, daily.won_count, daily.revenue_rub
    from daily
    inner join paid_channels
        on daily.month = paid_channels.month
        and daily.channel = paid_channels.channel

),

summed as (

    select
        month,
        breakdown,
        channel,
        utm_source,
        utm_medium,
        utm_campaign,
        sum(spend_rub) as spend_rub,
        sum(leads) as leads,
        sum(leads_won) as leads_won,
        sum(won_count) as won_count,
        sum(revenue_rub) as revenue_rub

    from levels
    group by 1, 2, 3, 4, 5, 6

),

channels as (

    select * from {{ ref('channel') }}

),

final as (

    select
        summed.month,
        summed.breakdown,
        summed.channel,
        case
            when summed.breakdown = 'paid' then 'Вся реклама'
            when summed.breakdown = 'utm' and summed.utm_source = '(none)' and summed.utm_medium = '(none)'
                then 'Без UTM-меток'
            when summed.breakdown = 'utm' then summed.utm_source || ' / ' || summed.utm_medium
            else coalesce(channels.channel_name, summed.channel)
        end as source_name,
        summed.utm_source,
        summed.utm_medium,
        summed.utm_campaign,
        cast(summed.spend_rub as double precision) as spend_rub,
        cast(summed.leads as bigint) as leads,
        cast(summed.leads_won as bigint) as leads_won,
        cast(summed.won_count as bigint) as won_count,
        cast(summed.revenue_rub as double precision) as revenue_rub,
        {{ safe_div('summed.spend_rub', 'summed.leads') }} as cpl_rub,
        {{ safe_div('summed.spend_rub', 'summed.won_count') }} as cpa_rub,
        100.0 * {{ safe_div('summed.revenue_rub - summed.spend_rub', 'summed.spend_rub') }} as romi_pct,
        100.0 * {{ safe_div('summed.leads_won', 'summed.leads') }} as lead_to_won_pct

    from summed

    left join channels
        on summed.channel = channels.channel

)

select * from final
