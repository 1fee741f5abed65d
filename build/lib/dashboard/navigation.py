"""Which pages exist and which each role may open (the first a role gets is its home page)."""

from __future__ import annotations

from pathlib import Path

PAGES = Path(__file__).resolve().parents[1] / "pages"
# (file, title, icon); the first a role gets is its home page.
CATALOGUE = {
    "overview": ("overview.py", "Overview", ":material/dashboard:"),
    "runs": ("runs.py", "Runs", ":material/play_circle:"),
    "review": ("review.py", "Review", ":material/fact_check:"),
    "deployments": ("deployments.py", "Deployments", ":material/cloud_upload:"),
    "monitoring": ("monitoring.py", "Monitoring", ":material/monitoring:"),
    "factsheets": ("factsheets.py", "Factsheets", ":material/description:"),
    "audit": ("audit.py", "Audit", ":material/policy:"),
    "admin": ("admin.py", "Admin", ":material/admin_panel_settings:"),
}
ROLE_PAGES = {
    "data_scientist": ["runs", "overview", "deployments", "monitoring", "factsheets", "audit"],
    "validator": ["review", "overview", "deployments", "monitoring", "factsheets", "audit"],
    "manager": ["overview", "deployments", "factsheets", "audit"],
    "admin": ["overview", "runs", "deployments", "monitoring", "factsheets", "audit", "admin"],
}
