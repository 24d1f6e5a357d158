"""Yandex.Direct daily campaign statistics (Reports API) -> raw_direct.campaign_stats."""
