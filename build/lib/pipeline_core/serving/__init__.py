"""The scoring service (HTTP)."""
