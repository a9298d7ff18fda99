"""Registry access (OCI distribution API v2) and the per-tag digest history built from it.

IO lives in `client`, `auth` and `transport`; `manifest`, `history` and `eligibility` are pure.
"""
