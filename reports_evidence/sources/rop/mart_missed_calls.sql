select * from mart_missed_calls
