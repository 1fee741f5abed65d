"""Streamlit dashboard (entry point ``dashboard/app.py``); its pages live in ``pages/``."""
