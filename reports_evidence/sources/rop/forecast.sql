select * from forecast
