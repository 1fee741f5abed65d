"""Separation of duties: who may not decide a candidate, by account, across everyone who made it.

A decider is refused when their account is the account of anyone who launched the candidate's run,
trained it, uploaded its training data, or asked for the retraining that made it, and when an admin
among those made the decider a validator (created the account as one, or promoted it): an admin
who builds a model cannot approve it through an account they gave themselves. Accounts are
compared by their key (``store.models.username_key``: one account per name whatever its case or
Unicode form), so ``SAM_SCI`` is ``sam_sci``. The product's own principals (the pipeline, the
system, a worker) make no one an author.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.services.authz import Principal
from pipeline_core.store.models import AuditEvent, Dataset, ModelVersion, RetrainingRequest, Run, User, username_key
from pipeline_core.vocabulary import Role


def _people(session: Session, names: set[str]) -> dict[str, str]:
    """account key -> name, for the names that are accounts of people (not the product's own actors)."""
    keys = {username_key(n): n for n in names if n}
    found = session.execute(select(User.username_key, User.username).where(User.username_key.in_(keys))).all()
    return {str(k): str(n) for k, n in found}


def authors(session: Session, mv: ModelVersion) -> dict[str, str]:
    """Every account that made ``mv``, key -> name: its run's launcher, its trainer, its data's uploader,
    whoever launched the retraining run it came from."""
    names = {mv.created_by}
    run = session.get(Run, mv.run_id)
    if run is not None:
        names.add(run.created_by)
        retrainers = session.execute(
            select(RetrainingRequest.launched_by).where(RetrainingRequest.run_id == run.id)
        ).scalars()
        names.update(n for n in retrainers if n)
    for dataset_id in {mv.dataset_id, *([run.dataset_id] if run is not None else [])}:
        data = session.get(Dataset, dataset_id)
        if data is not None:
            names.add(data.created_by)
    return _people(session, names)


def _made_validator_by(session: Session, username: str) -> set[str]:
    """Account keys of the admins who created ``username`` as a validator or gave it that role."""
    events = session.execute(
        select(AuditEvent.actor, AuditEvent.action, AuditEvent.details).where(
            AuditEvent.object_type == "user",
            AuditEvent.object_id == username,
            AuditEvent.action.in_(("user.added", "user.role_changed")),
        )
    ).all()
    grantors = {
        actor
        for actor, action, details in events
        if (details or {}).get("role" if action == "user.added" else "to") == Role.VALIDATOR
    }
    return {username_key(g) for g in grantors}


def conflict(session: Session, actor: Principal, mv: ModelVersion, action: str) -> str | None:
    """Why ``actor`` may not ``action`` model version ``mv`` by separation of duties, or None."""
    made_by = authors(session, mv)
    me = username_key(actor.username)
    if me in made_by:
        return (
            f"{actor.username} is the account of {made_by[me]}, who launched, trained, uploaded the data of or "
            f"retrained model version {mv.id}; a validator may not {action} their own model"
        )
    granted = _made_validator_by(session, actor.username) & set(made_by)
    if granted:
        names = ", ".join(sorted(made_by[k] for k in granted))
        return (
            f"{names} made model version {mv.id} and made {actor.username} a validator; a validator may not "
            f"{action} a model of the admin who gave them the role"
        )
    return None
