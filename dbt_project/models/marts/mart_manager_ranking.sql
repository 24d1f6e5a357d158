-- Manager ranking (docs/KPI.md), month x manager. Five parts, each standardised across the month's
-- ranked managers as a z-score (x - mean) / population standard deviation (0 when everyone is
-- equal, to 1e-9, or the part is unknown for the manager), so the score is fair across deal sizes:
--   plan fulfilment %   won rubles / plan x 100 (managers without plan: unknown -> 0)
--   win rate %          won / (won + lost), deals closed in the month
--   average deal size   won rubles / won count
--   activity index      100 x the manager's activity points / all managers' points in the month
--   response time       median minutes to the first outgoing contact (INVERTED: z = -(x - mean) / sd)
-- score = sum of weight x z (vars ranking_weights: 0.30, 0.20, 0.15, 0.20, 0.15); rank 1 is best.
-- Badges: "Снайпер конверсии" best win rate among managers with >= sniper_min_closed_deals (10)
-- closed deals; "Апселл-Гуру" largest share of won rubles from repeat sales (not when every ranked
-- manager has that share: a badge for all singles nobody out); "Rocket Growth"
-- largest growth of won rubles over the previous month (from a non-zero previous month).
-- Ties share a badge. Ranked: managers with a plan, a closed deal or an activity in the month.

{%- set w = var('ranking_weights') %}

with

deals as (

    select * from {{ ref('mart_deals') }}

),

plan as (

    select * from {{ ref('plan') }}

),

daily as (

    select * from {{ ref('mart_manager_daily') }}

),

responses as (

    select * from {{ ref('int_first_response') }}

),

managers as (

    select * from {{ ref('manager') }}

),

closed as (

    select
        closed_month as month,
        manager_id,
        sum(case when is_won then 1 else 0 end) as won_count,
        sum(case when is_lost then 1 else 0 end) as lost_count,
        sum(case when is_won then amount_rub else 0 end) as won_rub,
        sum(case when is_won and is_repeat then amount_rub else 0 end) as repeat_won_rub

    from deals
    where is_closed and manager_id is not null
    group by 1, 2

),

planned as (

    select
        month,
        manager_id,
        sum(plan_rub) as plan_rub

    from plan
    group by 1, 2

),

active as (

    select
        {{ month_start('day') }} as month,
        manager_id,
        sum(activity_points) as activity_points

    from daily
    group by 1, 2

),

responded as (

    select
        {{ month_start('created_day') }} as month,
        manager_id,
        {{ median('response_minutes') }} as median_response_minutes

    from responses
    where response_minutes is not null and manager_id is not null
    group by 1, 2

),

keys as (

    select month, manager_id from closed
    union
    select month, manager_id from planned
    union
    select month, manager_id from active where activity_points > 0

),

parts as (

    select
        keys.month,
        keys.manager_id,
        coalesce(planned.plan_rub, 0) as plan_rub,
        coalesce(closed.won_rub, 0) as won_rub,
        coalesce(closed.won_count, 0) as won_count,
        coalesce(closed.lost_count, 0) as lost_count,
        coalesce(closed.won_count, 0) + coalesce(closed.lost_count, 0) as closed_count,
        coalesce(closed.repeat_won_rub, 0) as repeat_won_rub,
        coalesce(active.activity_points, 0) as activity_points,
        responded.median_response_minutes,
        100.0 * closed.won_rub / nullif(planned.plan_rub, 0) as fulfilment_pct,
        100.0 * closed.won_count / nullif(closed.won_count + closed.lost_count, 0) as win_rate_pct,
        closed.won_rub / nullif(closed.won_count, 0) as avg_deal_rub,
        100.0 * closed.repeat_won_rub / nullif(closed.won_rub, 0) as repeat_share_pct

    from keys

    left join planned
        on keys.month = planned.month and keys.manager_id = planned.manager_id

    left join closed
        on keys.month = closed.month and keys.manager_id = closed.manager_id

    left join active
        on keys.month = active.month and keys.manager_id = active.manager_id

    left join responded
        on keys.month = responded.month and keys.manager_id = responded.manager_id

),

indexed as (

    select
        parts.*,
        100.0 * activity_points / nullif(sum(activity_points) over (partition by month), 0) as activity_index,
        lag(won_rub) over (partition by manager_id order by month) as prev_won_rub_ranked,
        lag(month) over (partition by manager_id order by month) as prev_month_ranked

    from parts

),

grown as (

    select
        indexed.*,
        case
            when prev_month_ranked = {{ shift_months('month', -1) }} then prev_won_rub_ranked
            else 0
        end as prev_won_rub

    from indexed

),

{%- set measures = [('fulfilment_pct', 1), ('win_rate_pct', 1), ('avg_deal_rub', 1),
                    ('activity_index', 1), ('median_response_minutes', -1)] %}

stats as (

    select
        grown.*
        {%- for m, sign in measures %},
        avg({{ m }}) over (partition by month) as mean_{{ m }},
        stddev_pop({{ m }}) over (partition by month) as sd_{{ m }}
        {%- endfor %}

    from grown

),

scored as (

    select
        stats.*
        {%- for m, sign in measures %},
        coalesce({{ sign }} * ({{ m }} - mean_{{ m }}) / case when sd_{{ m }} > 1e-9 then sd_{{ m }} end, 0) as z_{{ m }}
        {%- endfor %},
        100.0 * (won_rub - prev_won_rub) / nullif(prev_won_rub, 0) as growth_pct

    from stats

),

weighted as (

    select
        scored.*,
        {{ w['plan_fulfilment'] }} * z_fulfilment_pct
        + {{ w['win_rate'] }} * z_win_rate_pct
        + {{ w['avg_deal_size'] }} * z_avg_deal_rub
        + {{ w['activity_index'] }} * z_activity_index
        + {{ w['response_time'] }} * z_median_response_minutes as score

    from scored

),

badged as (

    select
        weighted.*,
        rank() over (partition by month order by score desc) as score_rank,
        case when closed_count >= {{ var('sniper_min_closed_deals') }}
            then max(case when closed_count >= {{ var('sniper_min_closed_deals') }} then win_rate_pct end)
                over (partition by month)
        end as best_sniper_win_rate,
        max(case when repeat_won_rub > 0 then repeat_share_pct end) over (partition by month) as best_repeat_share,
        -- a share every ranked manager has (all sales repeat ones, an export's accounts) singles nobody out
        min(case when repeat_won_rub > 0 then repeat_share_pct else -1 end) over (partition by month)
            as worst_repeat_share,
        count(*) over (partition by month) as ranked_count,
        max(case when growth_pct > 0 then growth_pct end) over (partition by month) as best_growth

    from weighted

),

upsell as (

    select
        windowed.*,
        coalesce(
            windowed.repeat_won_rub > 0 and windowed.repeat_share_pct = windowed.best_repeat_share
            and (windowed.ranked_count = 1 or windowed.worst_repeat_share < windowed.best_repeat_share),
            false
        ) as is_upsell_guru

    from badged as windowed

),

final as (

    select
        badged.month,
        badged.manager_id,
        managers.manager_name,
        managers.department_id,

        ---------- the parts
        cast(badged.plan_rub as double precision) as plan_rub,
        cast(badged.won_rub as double precision) as won_rub,
        cast(badged.won_count as bigint) as won_count,
        cast(badged.lost_count as bigint) as lost_count,
        cast(badged.closed_count as bigint) as closed_count,
        cast(badged.fulfilment_pct as double precision) as fulfilment_pct,
        cast(badged.win_rate_pct as double precision) as win_rate_pct,
        cast(badged.avg_deal_rub as double precision) as avg_deal_rub,
        cast(badged.activity_points as double precision) as activity_points,
        cast(badged.activity_index as double precision) as activity_index,
        cast(badged.median_response_minutes as double precision) as median_response_minutes,
        cast(badged.repeat_won_rub as double precision) as repeat_won_rub,
        cast(badged.repeat_share_pct as double precision) as repeat_share_pct,
        cast(badged.prev_won_rub as double precision) as prev_month_won_rub,
        cast(badged.growth_pct as double precision) as growth_pct,

        ---------- standardised parts and the score
        cast(badged.z_fulfilment_pct as double precision) as z_fulfilment,
        cast(badged.z_win_rate_pct as double precision) as z_win_rate,
        cast(badged.z_avg_deal_rub as double precision) as z_avg_deal_size,
        cast(badged.z_activity_index as double precision) as z_activity_index,
        cast(badged.z_median_response_minutes as double precision) as z_response_time,
        cast(round(cast(badged.score as numeric(38, 10)), 6) as double precision) as score,
        cast(badged.score_rank as bigint) as score_rank,

        ---------- badges
        coalesce(badged.win_rate_pct = badged.best_sniper_win_rate, false) as is_sniper,
        badged.is_upsell_guru,
        coalesce(badged.growth_pct > 0 and badged.growth_pct = badged.best_growth, false) as is_rocket_growth,
        nullif(concat_ws(', ',
            case when badged.win_rate_pct = badged.best_sniper_win_rate then 'Снайпер конверсии' end,
            case when badged.is_upsell_guru then 'Апселл-Гуру' end,
            case when badged.growth_pct > 0 and badged.growth_pct = badged.best_growth then 'Rocket Growth' end
        ), '') as badges

    from upsell as badged

    left join managers
        on badged.manager_id = managers.manager_id

)

select * from final
