"""CBR exchange rates over HTTP (XML_daily) -> raw_cbr.rates."""
