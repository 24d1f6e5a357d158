-- One row per 1C payment received: number, day, amount and currency, the invoice / deal / company it pays.
{%- set src = source('raw_onec', 'payments') %}
{%- set rel = optional_relation(src.schema, src.identifier) %}

with

source as (

{%- if rel is not none %}
    select * from {{ src }}
{%- else %}
    select cast(null as varchar) as payment_number, cast(null as date) as payment_date,
           cast(null as varchar) as invoice_number, cast(null as bigint) as deal_id, cast(null as bigint) as company_id,
           cast(null as numeric(24, 6)) as amount, cast(null as varchar) as currency, cast(null as varchar) as purpose
    where 1 = 0
{%- endif %}

),

renamed as (

    select
        {{ raw_text('payment_number') }} as payment_id,
        {{ raw_date('payment_date') }} as paid_day,
        {{ raw_text('invoice_number') }} as invoice_id,
        {{ raw_int('deal_id') }} as deal_id,
        {{ raw_int('company_id') }} as company_id,
        {{ raw_money('amount') }} as amount,
        upper({{ raw_text('currency') }}) as currency_code,
        {{ raw_text('purpose') }} as purpose

    from source

)

select * from renamed
