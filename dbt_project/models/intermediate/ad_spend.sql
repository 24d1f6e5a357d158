-- Canonical ad spend (docs/KPI.md): day x channel x campaign of an ad platform, with the UTM tags its
-- ads carry (var ad_platform_channels), so spend meets the CRM's leads on channel, utm_source,
-- utm_medium and campaign = utm_campaign; cost in rubles at the CBR rate of the day, and the leads
-- the platform itself counts (VK goals; Direct reports none). One branch per ad platform.
{%- set platforms = var('ad_platform_channels') %}

with

stats as (

    select
        stat_date, campaign_id, campaign_name, impressions, clicks,
        cast(null as bigint) as platform_leads, cost, currency_code, ad_platform
    from {{ ref('stg_direct__campaign_stats') }}

    union all

    select
        stat_date, campaign_id, campaign_name, impressions, clicks,
        platform_leads, cost, currency_code, ad_platform
    from {{ ref('stg_vk__campaign_stats') }}

),

final as (

    select
        stats.stat_date as day,
        case stats.ad_platform
            {%- for name, tags in platforms.items() %}
            when '{{ name }}' then '{{ tags.channel }}'
            {%- endfor %}
            else stats.ad_platform
        end as channel,
        stats.campaign_name as campaign,
        stats.campaign_id,
        case stats.ad_platform
            {%- for name, tags in platforms.items() %}
            when '{{ name }}' then '{{ tags.utm_source }}'
            {%- endfor %}
        end as utm_source,
        case stats.ad_platform
            {%- for name, tags in platforms.items() %}
            when '{{ name }}' then '{{ tags.utm_medium }}'
            {%- endfor %}
        end as utm_medium,
        cast(stats.impressions as bigint) as impressions,
        cast(stats.clicks as bigint) as clicks,
        cast(stats.platform_leads as bigint) as platform_leads,
        cast(stats.cost as numeric(18, 2)) as cost,
        coalesce(stats.currency_code, 'RUB') as currency_code,
        {{ to_rub('stats.cost', 'stats.currency_code') }} as cost_rub,
        stats.ad_platform

    from stats

    {{ fx_join('stats.currency_code', 'stats.stat_date') }}

    where stats.stat_date is not null

)

select * from final
