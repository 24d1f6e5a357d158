-- Every business day from the first to the last day with any CRM event (deal created or closed,
-- lead created, activity) or 1C payment, so daily marts can show quiet days as zeros.

with

deals as (

    select * from {{ ref('deal') }}

),

leads as (

    select * from {{ ref('lead') }}

),

activities as (

    select * from {{ ref('activity') }}

),

payments as (

    select * from {{ ref('payment') }}

),

event_days as (

    select created_day as day from deals
    union all
    select closed_day from deals
    union all
    select created_day from leads
    union all
    select day from activities
    union all
    select paid_day from payments

),

bounds as (

    select
        min(day) as first_day,
        max(day) as last_day

    from event_days

),

days as (

    select cast(series.day_ts as date) as day

    from bounds

    cross join generate_series(
        cast(bounds.first_day as timestamp),
        cast(bounds.last_day as timestamp),
        interval '1 day'
    ) as series(day_ts)

),

final as (

    select
        day,
        {{ month_start('day') }} as month,
        -- ISO weekday: 1 Monday ... 7 Sunday
        cast(extract(isodow from day) as integer) as iso_weekday,
        extract(isodow from day) >= 6 as is_weekend

    from days

)

select * from final
