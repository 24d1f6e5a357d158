select * from mart_manager_daily
