-- One row per VK Ads campaign and day: impressions (shows), clicks, cost (spent), goals, account currency.
{%- set src = source('raw_vk', 'campaign_stats') %}
{%- set rel = optional_relation(src.schema, src.identifier) %}

with

source as (

{%- if rel is not none %}
    select * from {{ src }}
{%- else %}
    select cast(null as date) as "date", cast(null as bigint) as campaign_id, cast(null as varchar) as campaign_name,
           cast(null as bigint) as shows, cast(null as bigint) as clicks, cast(null as numeric(24, 6)) as spent,
           cast(null as bigint) as goals, cast(null as varchar) as currency
    where 1 = 0
{%- endif %}

),

renamed as (

    select
        {{ raw_date('"date"') }} as stat_date,
        {{ raw_int('campaign_id') }} as campaign_id,
        {{ raw_text('campaign_name') }} as campaign_name,
        {{ raw_int('shows') }} as impressions,
        {{ raw_int('clicks') }} as clicks,
        {{ raw_decimal('spent', 6) }} as cost,
        {{ raw_int('goals') }} as platform_leads,
        upper({{ raw_text('currency') }}) as currency_code,
        'vk_ads' as ad_platform

    from source

)

select * from renamed
