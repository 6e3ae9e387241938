"""DELETE /users/{user_id}: erase a user (the same work as ``cartograph forget-user``), behind the admin key."""

from __future__ import annotations

from fastapi import APIRouter

from api.contract import error_responses
from api.deps import StateDep, StoreDep
from api.models import Forgotten
from api.privacy import forget_user, hide_forgotten
from api.routes.admin import AdminDep
from api.routes.params import UserIdPath
from kg.privacy import user_digest

router = APIRouter(tags=["privacy"])


@router.delete("/users/{user_id}", response_model=Forgotten, dependencies=[AdminDep],
               responses=error_responses(401, 503))
def forget(user_id: UserIdPath, state: StateDep, store: StoreDep) -> Forgotten:
    """Erase the user: from the graph (node, interactions, recommendations), event and feedback files, quarantine
    files, this process's recent events and the served bundle; recorded so that no bundle serves them again.
    Idempotent: a second call finds nothing left and says so. Needs the graph (503 while a job holds it)."""
    report = forget_user(state.settings, store, user_id)
    index = state.index
    if index is not None:
        hide_forgotten(index, frozenset({user_digest(user_id)}))
    state.recent.forget([user_id])
    return Forgotten(**report.as_dict())
