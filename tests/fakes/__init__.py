"""Loopback stand-ins for outside services (Telegram Bot API, OpenAI) that check the requests' form."""
