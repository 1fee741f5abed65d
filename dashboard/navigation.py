"""Which pages exist and which each role may open (the first a role gets is its home page)."""

from __future__ import annotations

from pathlib import Path

from pipeline_core.vocabulary import Role

PAGES = Path(__file__).resolve().parents[1] / "pages"
# (file, title, icon); the first a role gets is its home page.
CATALOGUE = {
    "overview": ("overview.py", "Overview", ":material/dashboard:"),
    "runs": ("runs.py", "Runs", ":material/play_circle:"),
    "review": ("review.py", "Review", ":material/fact_check:"),
    "documentation": ("documentation.py", "Documentation", ":material/menu_book:"),
    "findings": ("findings.py", "Findings", ":material/report:"),
    "deployments": ("deployments.py", "Deployments", ":material/cloud_upload:"),
    "monitoring": ("monitoring.py", "Monitoring", ":material/monitoring:"),
    "factsheets": ("factsheets.py", "Factsheets", ":material/description:"),
    "audit": ("audit.py", "Audit", ":material/policy:"),
    "admin": ("admin.py", "Admin", ":material/admin_panel_settings:"),
}
# A role read from the store is a plain string: it finds its entry here because a Role is that string.
# No Runs page for an admin: launching, cancelling and retraining are model development, not administration.
ROLE_PAGES: dict[str, list[str]] = {
    Role.DATA_SCIENTIST: [
        "runs",
        "documentation",
        "findings",
        "overview",
        "deployments",
        "monitoring",
        "factsheets",
        "audit",
    ],
    Role.VALIDATOR: [
        "review",
        "documentation",
        "findings",
        "overview",
        "deployments",
        "monitoring",
        "factsheets",
        "audit",
    ],
    Role.MANAGER: ["overview", "documentation", "findings", "deployments", "factsheets", "audit"],
    Role.ADMIN: ["overview", "deployments", "monitoring", "factsheets", "audit", "admin"],
}
# A role with no entry (none today) still gets somewhere to land.
FALLBACK_PAGES = ["overview"]


def pages_for(role: str) -> list[str]:
    """The pages ``role`` may open, its home page first: called with the role the store has now, on every run."""
    return list(ROLE_PAGES.get(role, FALLBACK_PAGES))
