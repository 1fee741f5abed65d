"""Monitors: quality, fairness, drift, explainability, mrm (pure computations)."""
