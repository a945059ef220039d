"""Publish: every file a reader gets — the investigation wrapper (``investigate``), the writers,
the machine-readable files (``machine``), pseudonymisation, and the report."""
