"""The in-cluster jobs (gate, verify-rebuild) and the append-only state recording they share."""
