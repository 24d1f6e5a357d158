-- Canonical ad spend (DOMAIN.md): day x channel x campaign of an ad platform, with the UTM tags its
-- ads carry (so spend meets the CRM's leads on channel, utm_source, utm_medium, utm_campaign), and
-- the leads the platform itself counts. Empty and typed until Yandex.Direct / VK Ads land: each
-- platform's staging model becomes one `union all` branch here.

with

spend as (

    select
        cast(null as date) as day,
        cast(null as varchar) as channel,
        cast(null as varchar) as campaign,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as bigint) as impressions,
        cast(null as bigint) as clicks,
        cast(null as bigint) as platform_leads,
        cast(null as numeric(18, 2)) as cost,
        cast(null as varchar) as currency_code,
        cast(null as numeric(18, 2)) as cost_rub,
        cast(null as varchar) as ad_platform
    where 1 = 0

)

select * from spend
