"""Telephony / call-tracking export folder -> raw_telephony.calls (client phones hashed on arrival)."""
