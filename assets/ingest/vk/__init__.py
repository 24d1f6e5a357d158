"""VK Ads daily campaign statistics -> raw_vk.campaign_stats."""
