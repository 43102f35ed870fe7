"""pytest plugin entry point of the txsync contract kit (filled in below)."""
