select * from mart_manager_ranking
