"""Pipeline stages: pure functions from data, spec and parameters to typed results."""
