select * from mart_open_invoices
