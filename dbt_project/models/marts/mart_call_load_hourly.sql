-- The outgoing-call norm's companion (docs/KPI.md: its load by hour of day): day x manager x local
-- hour of the calls that started in it, from the canonical call (telephony when present):
--   calls_out, calls_in, calls_missed (inbound, not answered), call_minutes (talk time).
-- Hours without calls have no row; the report fills the 9-18 grid.

with

calls as (

    select * from {{ ref('call') }}

),

managers as (

    select * from {{ ref('manager') }}

),

hourly as (

    select
        day,
        coalesce(manager_id, 0) as manager_id,
        cast(extract(hour from {{ local_time('started_at') }}) as integer) as hour_of_day,
        sum(case when direction = 'out' then 1 else 0 end) as calls_out,
        sum(case when direction = 'in' then 1 else 0 end) as calls_in,
        sum(case when direction = 'in' and not is_answered then 1 else 0 end) as calls_missed,
        sum(case when is_answered then duration_minutes else 0 end) as call_minutes

    from calls
    where started_at is not null
    group by 1, 2, 3

),

final as (

    select
        hourly.day,
        hourly.manager_id,
        managers.manager_name,
        managers.department_id,
        hourly.hour_of_day,
        cast(hourly.calls_out as bigint) as calls_out,
        cast(hourly.calls_in as bigint) as calls_in,
        cast(hourly.calls_missed as bigint) as calls_missed,
        cast(round(cast(hourly.call_minutes as numeric(38, 10)), 2) as double precision) as call_minutes

    from hourly

    left join managers
        on hourly.manager_id = managers.manager_id

)

select * from final
