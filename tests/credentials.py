"""The test suite's throwaway credential and its cheap password hasher, shared by in-process and CLI tests."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher

PASSWORD = "correct horse battery"  # test-only credential for throwaway stores
# A shared (PostgreSQL) store opens only with an audit key from the environment; this is the suite's, per run.
AUDIT_KEY = secrets.token_hex(32)
# The suite hashes hundreds of throwaway passwords; the product's own cost (the default, asserted in
# tests/services/test_users.py) would spend minutes on them. Verifying reads the cost from the stored
# hash, so a CLI process signing in against a store made here pays the cheap cost too.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
