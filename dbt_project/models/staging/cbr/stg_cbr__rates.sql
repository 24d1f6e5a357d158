-- One row per CBR published rate: date x currency; `value` rubles buy `nominal` units.
-- Empty when the company runs without the CBR (CBR_API_URL=off: a closed network, rubles only).
{%- set src = source('raw_cbr', 'rates') %}
{%- set rel = optional_relation(src.schema, src.identifier) %}

with

source as (

{%- if rel is not none %}
    select * from {{ src }}
{%- else %}
    select cast(null as date) as "date", cast(null as varchar) as char_code, cast(null as bigint) as nominal,
           cast(null as numeric(38, 9)) as value
    where 1 = 0
{%- endif %}

),

renamed as (

    select
        {{ raw_date('"date"') }} as rate_date,
        upper({{ raw_text('char_code') }}) as currency_code,
        {{ raw_int('nominal') }} as nominal,
        {{ raw_decimal('value', 6) }} as value_rub

    from source

)

select * from renamed
