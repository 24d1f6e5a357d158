select * from mart_lost_reasons
