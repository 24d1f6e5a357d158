select * from forecast_week
