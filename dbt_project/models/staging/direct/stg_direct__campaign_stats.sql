-- One row per Yandex.Direct campaign and day: impressions, clicks, cost in the login's currency.
{%- set src = source('raw_direct', 'campaign_stats') %}
{%- set rel = optional_relation(src.schema, src.identifier) %}

with

source as (

{%- if rel is not none %}
    select * from {{ src }}
{%- else %}
    select cast(null as date) as "date", cast(null as bigint) as campaign_id, cast(null as varchar) as campaign_name,
           cast(null as bigint) as impressions, cast(null as bigint) as clicks, cast(null as numeric(24, 6)) as cost,
           cast(null as varchar) as currency, cast(null as varchar) as client_login
    where 1 = 0
{%- endif %}

),

renamed as (

    select
        {{ raw_date('"date"') }} as stat_date,
        {{ raw_int('campaign_id') }} as campaign_id,
        {{ raw_text('campaign_name') }} as campaign_name,
        {{ raw_int('impressions') }} as impressions,
        {{ raw_int('clicks') }} as clicks,
        {{ raw_decimal('cost', 6) }} as cost,
        upper({{ raw_text('currency') }}) as currency_code,
        {{ raw_text('client_login') }} as client_login,
        'yandex_direct' as ad_platform

    from source

)

select * from renamed
