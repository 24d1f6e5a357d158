-- Channel economics (docs/KPI.md), day x channel x utm_source x utm_medium x utm_campaign:
--   spend_rub, impressions, clicks  from the ad platforms (intermediate ad_spend), matched on the
--                                   UTM tags; null (unknown) where no platform reported spend, so
--                                   CPL / CPA / ROMI stay null until Yandex.Direct / VK Ads land
--   leads                           CRM leads created that day
--   leads_won                       of those leads, how many became a won deal (the day's cohort)
--   won_count, revenue_rub          deals won that day, attributed to the channel and UTM of the
--                                   lead they came from (the deal's own, when it had no lead)
--   cpl_rub = spend / leads; cpa_rub = spend / won; romi_pct = (revenue - spend) / spend x 100;
--   lead_to_won_pct = leads_won / leads x 100. Missing tags read '(none)'.

with

leads as (

    select * from {{ ref('lead') }}

),

deals as (

    select * from {{ ref('deal') }}

),

ad_spend as (

    select * from {{ ref('ad_spend') }}

),

channels as (

    select * from {{ ref('channel') }}

),

lead_rows as (

    select
        leads.created_day as day,
        coalesce(leads.channel, '(none)') as channel,
        coalesce(leads.utm_source, '(none)') as utm_source,
        coalesce(leads.utm_medium, '(none)') as utm_medium,
        coalesce(leads.utm_campaign, '(none)') as utm_campaign,
        count(*) as leads,
        sum(case when won_deals.lead_id is not null then 1 else 0 end) as leads_won

    from leads

    left join (select distinct lead_id from deals where is_won and lead_id is not null) as won_deals
        on leads.lead_id = won_deals.lead_id

    group by 1, 2, 3, 4, 5

),

won_rows as (

    select
        deals.closed_day as day,
        coalesce(case when leads.lead_id is not null then leads.channel else deals.channel end, '(none)') as channel,
        coalesce(case when leads.lead_id is not null then leads.utm_source else deals.utm_source end, '(none)')
            as utm_source,
        coalesce(case when leads.lead_id is not null then leads.utm_medium else deals.utm_medium end, '(none)')
            as utm_medium,
        coalesce(case when leads.lead_id is not null then leads.utm_campaign else deals.utm_campaign end, '(none)')
            as utm_campaign,
        count(*) as won_count,
        sum(deals.amount_rub) as revenue_rub

    from deals

    left join leads
        on deals.lead_id = leads.lead_id

    where deals.is_won
    group by 1, 2, 3, 4, 5

),

spend_rows as (

    select
        day,
        coalesce(channel, '(none)') as channel,
        coalesce(utm_source, '(none)') as utm_source,
        coalesce(utm_medium, '(none)') as utm_medium,
        coalesce(campaign, '(none)') as utm_campaign,
        sum(cost_rub) as spend_rub,
        sum(impressions) as impressions,
        sum(clicks) as clicks

    from ad_spend
    group by 1, 2, 3, 4, 5

),

facts as (

    -- spend stays null (unknown, not zero) where no ad platform reported any
    select day, channel, utm_source, utm_medium, utm_campaign,
           cast(null as numeric(18, 2)) as spend_rub, cast(null as bigint) as impressions, cast(null as bigint) as clicks,
           leads, leads_won, 0 as won_count, 0 as revenue_rub
    from lead_rows
    union all
    select day, channel, utm_source, utm_medium, utm_campaign,
           null, null, null, 0, 0, won_count, revenue_rub
    from won_rows
    union all
    select day, channel, utm_source, utm_medium, utm_campaign,
           spend_rub, impressions, clicks, 0, 0, 0, 0
    from spend_rows

),

summed as (

    select
        day,
        channel,
        utm_source,
        utm_medium,
        utm_campaign,
        sum(spend_rub) as spend_rub,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(leads) as leads,
        sum(leads_won) as leads_won,
        sum(won_count) as won_count,
        sum(revenue_rub) as revenue_rub

    from facts
    where day is not null
    group by 1, 2, 3, 4, 5

),

final as (

    select
        summed.day,
        summed.channel,
        channels.channel_name,
        summed.utm_source,
        summed.utm_medium,
        summed.utm_campaign,
        cast(summed.spend_rub as double precision) as spend_rub,
        cast(summed.impressions as bigint) as impressions,
        cast(summed.clicks as bigint) as clicks,
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
