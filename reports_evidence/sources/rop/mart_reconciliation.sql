select * from mart_reconciliation
