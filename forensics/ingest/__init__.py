"""Ingest: evidence files in (hashed, sniffed, read line by line inside DuckDB), events and rejects out;
the checks on what was stored (``verify``), undoing an ingest (``forget``) and re-parsing (``reparse``).
The only stage that imports ``forensics.formats``."""
