"""The report's numbered sections, one module per group of sections (content.py puts them together)."""
