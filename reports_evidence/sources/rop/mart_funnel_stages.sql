select * from mart_funnel_stages
