"""1C invoices and payments from an export folder -> raw_onec.invoices / raw_onec.payments."""
