select * from plan_fact
