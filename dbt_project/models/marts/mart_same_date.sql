-- Same-date comparison (docs/KPI.md): for every business day D and scope (the company, each
-- department, manager and pipeline), period-to-date figures through D against the previous period
-- through the same day:
--   month:   1st..D of D's month      vs 1st..(D - 1 month) of the previous month (3 Dec vs 3 Nov;
--            31 Mar vs 28 Feb: the previous month is clamped to its last day)
--   quarter: quarter start..D          vs the previous quarter's start..(D - 3 months)
--   year:    month-to-date D           vs the same month a year before through (D - 1 year) (YoY),
--            and year-to-date vs the previous year through the same date
-- Revenue is the CRM view (won deals by close day); leads by creation day (null for pipelines:
-- a lead has no pipeline). change_pct = (current - previous) / previous x 100, null when previous is 0.

with

deals as (

    select * from {{ ref('deal') }}

),

leads as (

    select * from {{ ref('lead') }}

),

managers as (

    select * from {{ ref('manager') }}

),

departments as (

    select * from {{ ref('department') }}

),

pipelines as (

    select * from {{ ref('pipeline') }}

),

calendar as (

    select * from {{ ref('calendar') }}

),

won as (

    select
        deals.closed_day as day,
        deals.manager_id,
        managers.department_id,
        deals.pipeline_id,
        deals.amount_rub

    from deals

    left join managers
        on deals.manager_id = managers.manager_id

    where deals.is_won

),

lead_rows as (

    select
        leads.created_day as day,
        leads.manager_id,
        managers.department_id

    from leads

    left join managers
        on leads.manager_id = managers.manager_id

),

daily as (

    select 'company' as scope_type, cast(0 as bigint) as scope_id, day,
           sum(amount_rub) as won_rub, count(*) as won_count, cast(0 as bigint) as leads_created
    from won group by day
    union all
    select 'company', cast(0 as bigint), day, 0, 0, count(*) from lead_rows group by day
    union all
    select 'department', department_id, day, sum(amount_rub), count(*), 0
    from won where department_id is not null group by department_id, day
    union all
    select 'department', department_id, day, 0, 0, count(*)
    from lead_rows where department_id is not null group by department_id, day
    union all
    select 'manager', manager_id, day, sum(amount_rub), count(*), 0
    from won where manager_id is not null group by manager_id, day
    union all
    select 'manager', manager_id, day, 0, 0, count(*)
    from lead_rows where manager_id is not null group by manager_id, day
    union all
    select 'pipeline', pipeline_id, day, sum(amount_rub), count(*), 0
    from won group by pipeline_id, day

),

daily_totals as (

    select
        scope_type,
        scope_id,
        day,
        sum(won_rub) as won_rub,
        sum(won_count) as won_count,
        sum(leads_created) as leads_created

    from daily
    group by 1, 2, 3

),

scopes as (

    select distinct scope_type, scope_id from daily_totals

),

-- running totals on the dense calendar: a period's figure is cum(last day) - cum(first day - 1)
cumulative as (

    select
        scopes.scope_type,
        scopes.scope_id,
        calendar.day,
        sum(coalesce(daily_totals.won_rub, 0)) over w as cum_won_rub,
        sum(coalesce(daily_totals.won_count, 0)) over w as cum_won_count,
        sum(coalesce(daily_totals.leads_created, 0)) over w as cum_leads

    from scopes

    cross join calendar

    left join daily_totals
        on scopes.scope_type = daily_totals.scope_type
        and scopes.scope_id = daily_totals.scope_id
        and calendar.day = daily_totals.day

    window w as (partition by scopes.scope_type, scopes.scope_id order by calendar.day
                 rows between unbounded preceding and current row)

),

bounds as (

    select
        cumulative.*,
        cast({{ dbt.date_trunc('month', 'day') }} as date) as month_start,
        cast({{ dbt.date_trunc('quarter', 'day') }} as date) as quarter_start,
        cast({{ dbt.date_trunc('year', 'day') }} as date) as year_start,
        {{ shift_months('day', -1) }} as prev_month_day,
        {{ shift_months('day', -3) }} as prev_quarter_day,
        {{ shift_months('day', -12) }} as prev_year_day

    from cumulative

),

periods as (

    select
        bounds.*,
        cast(month_start - 1 as date) as before_month,
        cast({{ shift_months('month_start', -1) }} - 1 as date) as before_prev_month,
        cast(quarter_start - 1 as date) as before_quarter,
        cast({{ shift_months('quarter_start', -3) }} - 1 as date) as before_prev_quarter,
        cast({{ shift_months('month_start', -12) }} - 1 as date) as before_month_last_year,
        cast(year_start - 1 as date) as before_year,
        cast({{ shift_months('year_start', -12) }} - 1 as date) as before_prev_year

    from bounds

),

{%- set lookups = [
    ('c_before_month', 'before_month'), ('c_prev_month_day', 'prev_month_day'),
    ('c_before_prev_month', 'before_prev_month'), ('c_before_quarter', 'before_quarter'),
    ('c_prev_quarter_day', 'prev_quarter_day'), ('c_before_prev_quarter', 'before_prev_quarter'),
    ('c_prev_year_day', 'prev_year_day'), ('c_before_month_last_year', 'before_month_last_year'),
    ('c_before_year', 'before_year'), ('c_before_prev_year', 'before_prev_year'),
] %}

looked_up as (

    select
        periods.scope_type,
        periods.scope_id,
        periods.day,
        periods.cum_won_rub,
        periods.cum_won_count,
        periods.cum_leads
        {%- for alias, col in lookups %},
        coalesce({{ alias }}.cum_won_rub, 0) as {{ alias }}_rub,
        coalesce({{ alias }}.cum_won_count, 0) as {{ alias }}_count,
        coalesce({{ alias }}.cum_leads, 0) as {{ alias }}_leads
        {%- endfor %}

    from periods
    {%- for alias, col in lookups %}

    left join cumulative as {{ alias }}
        on periods.scope_type = {{ alias }}.scope_type
        and periods.scope_id = {{ alias }}.scope_id
        and periods.{{ col }} = {{ alias }}.day
    {%- endfor %}

),

figures as (

    select
        scope_type,
        scope_id,
        day,
        cum_won_rub - c_before_month_rub as mtd_won_rub,
        c_prev_month_day_rub - c_before_prev_month_rub as prev_month_won_rub,
        cum_won_count - c_before_month_count as mtd_won_count,
        c_prev_month_day_count - c_before_prev_month_count as prev_month_won_count,
        cum_leads - c_before_month_leads as mtd_leads,
        c_prev_month_day_leads - c_before_prev_month_leads as prev_month_leads,
        cum_won_rub - c_before_quarter_rub as qtd_won_rub,
        c_prev_quarter_day_rub - c_before_prev_quarter_rub as prev_quarter_won_rub,
        c_prev_year_day_rub - c_before_month_last_year_rub as last_year_mtd_won_rub,
        cum_won_rub - c_before_year_rub as ytd_won_rub,
        c_prev_year_day_rub - c_before_prev_year_rub as prev_ytd_won_rub

    from looked_up

),

final as (

    select
        figures.day,
        figures.scope_type,
        figures.scope_id,
        case figures.scope_type
            when 'company' then 'Компания'
            when 'department' then departments.department_name
            when 'manager' then managers.manager_name
            when 'pipeline' then pipelines.pipeline_name
        end as scope_name,
        cast(figures.mtd_won_rub as double precision) as mtd_won_rub,
        cast(figures.prev_month_won_rub as double precision) as prev_month_won_rub,
        cast(round(cast(100.0 * (figures.mtd_won_rub - figures.prev_month_won_rub)
            / nullif(figures.prev_month_won_rub, 0) as numeric(38, 10)), 2) as double precision) as mom_change_pct,
        cast(figures.mtd_won_count as bigint) as mtd_won_count,
        cast(figures.prev_month_won_count as bigint) as prev_month_won_count,
        cast(case when figures.scope_type <> 'pipeline' then figures.mtd_leads end as bigint) as mtd_leads,
        cast(case when figures.scope_type <> 'pipeline' then figures.prev_month_leads end as bigint)
            as prev_month_leads,
        cast(figures.qtd_won_rub as double precision) as qtd_won_rub,
        cast(figures.prev_quarter_won_rub as double precision) as prev_quarter_won_rub,
        cast(round(cast(100.0 * (figures.qtd_won_rub - figures.prev_quarter_won_rub)
            / nullif(figures.prev_quarter_won_rub, 0) as numeric(38, 10)), 2) as double precision) as qoq_change_pct,
        cast(figures.last_year_mtd_won_rub as double precision) as last_year_mtd_won_rub,
        cast(round(cast(100.0 * (figures.mtd_won_rub - figures.last_year_mtd_won_rub)
            / nullif(figures.last_year_mtd_won_rub, 0) as numeric(38, 10)), 2) as double precision) as yoy_change_pct,
        cast(figures.ytd_won_rub as double precision) as ytd_won_rub,
        cast(figures.prev_ytd_won_rub as double precision) as prev_ytd_won_rub

    from figures

    left join departments
        on figures.scope_type = 'department' and figures.scope_id = departments.department_id

    left join managers
        on figures.scope_type = 'manager' and figures.scope_id = managers.manager_id

    left join pipelines
        on figures.scope_type = 'pipeline' and figures.scope_id = pipelines.pipeline_id

)

select * from final
