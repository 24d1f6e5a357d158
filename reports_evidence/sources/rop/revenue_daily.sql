select * from revenue_daily
