-- Every deal (docs/KPI.md), one row each: pipeline, stage, manager, channel, amounts, cycle, days since
-- the last activity and the last call, new vs repeat, lost reason and the CRM card's URL.
--   days_since_last_activity  as-of day - business day of the last done activity on the deal
--                             (null: none yet); days_idle counts from creation when there is none
--   is_repeat                 the deal's company had a won deal (closed) before this deal was created
--   channel, utm_*            of the lead the deal came from (docs/KPI.md: revenue is attributed to
--                             the lead's channel), else the deal's own

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

managers as (

    select * from {{ ref('manager') }}

),

departments as (

    select * from {{ ref('department') }}

),

pipelines as (

    select * from {{ ref('pipeline') }}

),

stages as (

    select * from {{ ref('stage') }}

),

deal_activity as (

    select
        owner_id as deal_id,
        max(case when is_done then occurred_at end) as last_activity_at,
        max(case when activity_type = 'call' then occurred_at end) as last_call_at,
        sum(case when activity_type = 'task' and not is_completed then 1 else 0 end) as open_tasks

    from activities
    where owner_type = 'deal'
    group by owner_id

),

company_first_win as (

    select
        company_id,
        min(closed_at) as first_won_at

    from deals
    where is_won and company_id is not null
    group by company_id

),

as_of as (

    select {{ as_of_day() }} as as_of_day

),

final as (

    select

        ---------- the deal
        deals.deal_id,
        deals.deal_number,
        deals.deal_title,
        deals.crm_source,
        {{ crm_url('deal', 'deals.deal_id') }} as crm_url,

        ---------- where it is
        deals.pipeline_id,
        pipelines.pipeline_name,
        deals.stage_id,
        stages.stage_name,
        stages.sort_order as stage_sort,
        deals.semantic,
        deals.is_won,
        deals.is_lost,
        deals.is_closed,
        deals.lost_reason,

        ---------- who
        deals.manager_id,
        managers.manager_name,
        managers.department_id,
        departments.department_name,
        deals.company_id,
        deals.contact_id,
        deals.lead_id,

        ---------- where from
        case when leads.lead_id is not null then leads.channel else deals.channel end as channel,
        case when leads.lead_id is not null then leads.utm_source else deals.utm_source end as utm_source,
        case when leads.lead_id is not null then leads.utm_medium else deals.utm_medium end as utm_medium,
        case when leads.lead_id is not null then leads.utm_campaign else deals.utm_campaign end as utm_campaign,
        deals.product,
        coalesce(company_first_win.first_won_at < deals.created_at, false) as is_repeat,
        case when company_first_win.first_won_at < deals.created_at then 'repeat' else 'new' end as sale_type,

        ---------- money
        deals.amount,
        deals.currency_code,
        cast(deals.amount_rub as double precision) as amount_rub,

        ---------- time
        deals.created_at,
        deals.closed_at,
        deals.created_day,
        deals.closed_day,
        {{ month_start('deals.created_day') }} as created_month,
        {{ month_start('deals.closed_day') }} as closed_month,
        deals.expected_close_day,
        cast(deals.cycle_days as integer) as cycle_days,
        deal_activity.last_activity_at,
        deal_activity.last_call_at,
        cast(as_of.as_of_day - {{ business_day('deal_activity.last_activity_at') }} as integer)
            as days_since_last_activity,
        cast(as_of.as_of_day - {{ business_day('deal_activity.last_call_at') }} as integer)
            as days_since_last_call,
        cast(as_of.as_of_day - greatest(
            deals.created_day,
            coalesce({{ business_day('deal_activity.last_activity_at') }}, deals.created_day)
        ) as integer) as days_idle,
        cast(coalesce(deal_activity.open_tasks, 0) as bigint) as open_tasks

    from deals

    cross join as_of

    left join leads
        on deals.lead_id = leads.lead_id

    left join deal_activity
        on deals.deal_id = deal_activity.deal_id

    left join company_first_win
        on deals.company_id = company_first_win.company_id

    left join managers
        on deals.manager_id = managers.manager_id

    left join departments
        on managers.department_id = departments.department_id

    left join pipelines
        on deals.pipeline_id = pipelines.pipeline_id

    left join stages
        on deals.stage_id = stages.stage_id

)

select * from final
