"""Monitors: quality, fairness, drift, explainability, and the risk summary over them (pure computations)."""
