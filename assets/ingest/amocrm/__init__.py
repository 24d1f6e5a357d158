"""amoCRM API v4 -> raw_amocrm.* (leads, pipelines, statuses, events, notes, tasks, users, loss reasons, companies, custom fields)."""
