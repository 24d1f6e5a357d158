select * from mart_revenue_daily
