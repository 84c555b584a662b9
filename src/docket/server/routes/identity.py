"""``/whoami`` and ``/health``: who the key stands for, and whether the server runs."""

from __future__ import annotations

from fastapi import APIRouter

from docket.server.auth import CallerDep
from docket.server.routes import ERRORS
from docket.server.schemas import Health, WhoAmI

router = APIRouter(tags=["identity"])


@router.get("/whoami", responses=ERRORS)
def whoami(caller: CallerDep) -> WhoAmI:
    return WhoAmI(user=caller.user, entities=sorted(caller.entities))


@router.get("/health")
def health() -> Health:
    """Unauthenticated: answers once the server is ready for requests."""
    return Health(status="ok")
