select * from mart_plan_fact
