select * from mart_same_date
