select * from forecast_deals
