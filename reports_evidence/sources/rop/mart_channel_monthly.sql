select * from mart_channel_monthly
