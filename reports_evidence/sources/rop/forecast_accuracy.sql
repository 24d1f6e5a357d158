select * from forecast_accuracy
