{{ config(meta={"dagster": {"ref": {"name": "mart_manager_daily"}}}, severity="warn") }}

-- On every day with any activity points, the managers' activity indexes add up to 100.

select
    day,
    sum(activity_index) as total_index

from {{ ref('mart_manager_daily') }}

group by day

having sum(activity_points) > 0
    and abs(sum(activity_index) - 100) > 0.01
