"""Streamlit dashboard (``dashboard/app.py``, started by ``dashboard/launch.py``); its pages live in ``pages/``."""
