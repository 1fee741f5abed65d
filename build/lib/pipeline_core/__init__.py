"""Governance pipeline core: data, stages, monitors, store and services, usable without a UI."""

__version__ = "0.1.0"
