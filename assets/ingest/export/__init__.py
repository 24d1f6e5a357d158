"""CRM export files (CSV) + a YAML column mapping -> raw_export.* (deals, leads, activities, managers, quarantine)."""
