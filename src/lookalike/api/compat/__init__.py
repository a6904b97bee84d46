"""What the compatibility routes share: reading their records and queries into the core's
items and queries, translating their filters, and reading each record's outcome from the
core's ingest report.

The routes themselves live in ``api/routes/compat_*.py``; like every route, they decode,
filter and score nothing themselves."""
