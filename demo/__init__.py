"""The demo world (seeded generator) and the demo portal that serves it in Bitrix24's REST dialect."""
