select * from mart_forgotten
