"""The audit trail: an append-only, hash-chained log of who did what, when, from where."""
