select * from forecast_scopes
