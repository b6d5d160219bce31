"""Lists of audits and corpora: one query shape (filters, sort, offset or cursor), one implementation."""
