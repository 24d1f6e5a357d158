select * from mart_call_load_hourly
