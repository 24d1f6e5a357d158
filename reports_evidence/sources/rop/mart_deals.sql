select * from mart_deals
