"""What the compatibility routes share: reading their records and queries into the core's
items and queries, translating their filters, and reporting per-record outcomes.

The routes themselves live in ``api/routes/compat_*.py``; like every route, they decode,
filter and score nothing themselves."""
