"""Who is calling, and what they may reach.

A caller reads and writes in the entities it belongs to and nowhere else. Anything
in another entity answers exactly like something that does not exist, so nothing
leaks about what other users keep.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from docket.errors import AuthError, NotFoundError
from docket.server.context import ServerContext
from docket.store.identity import Caller
from docket.store.records import VersionRecord

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `docket admin create-user` or `create-key`.",
)


def context(request: Request) -> ServerContext:
    server_context: ServerContext = request.app.state.context
    return server_context


Context = Annotated[ServerContext, Depends(context)]


def authenticated(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller named by the request's bearer key; 401 without a valid one."""
    if credentials is None:
        raise AuthError(
            "this server needs an API key: send 'Authorization: Bearer <key>' "
            "(set DOCKET_API_KEY for the SDK); `docket admin create-user` makes one"
        )
    caller = ctx.identity.authenticate(credentials.credentials)
    request.state.user = caller.user
    return caller


CallerDep = Annotated[Caller, Depends(authenticated)]


def require_member(caller: Caller, entity: str) -> None:
    """404 unless the caller belongs to ``entity``, whether or not it exists."""
    if not caller.belongs_to(entity):
        raise NotFoundError(
            f"entity {entity!r} does not exist or you are not a member of it; "
            f"an administrator adds members with `docket admin add-member`"
        )


def hidden_run(entity: str, project: str, uid: str) -> NotFoundError:
    # Word for word what the store says about a run that does not exist.
    return NotFoundError(f"run {entity}/{project}/{uid} does not exist")


def require_run_access(caller: Caller, entity: str, project: str, uid: str) -> None:
    if not caller.belongs_to(entity):
        raise hidden_run(entity, project, uid)


def require_artifact_access(
    caller: Caller, entity: str, project: str, name: str
) -> None:
    if not caller.belongs_to(entity):
        # Word for word what the store says about an artifact that does not exist.
        where = f"{entity}/{project}/{name}"
        raise NotFoundError(
            f"artifact {where} does not exist; check the name and project "
            f"(docket artifact ls {entity}/{project} lists them)"
        )


def readable_version(
    ctx: ServerContext, caller: Caller, version_id: int
) -> VersionRecord:
    """Version ``version_id`` if it exists in one of the caller's entities."""
    try:
        version: VersionRecord | None = ctx.metadata.get_version_by_id(version_id)
    except NotFoundError:
        version = None
    if version is None or not caller.belongs_to(version.entity):
        raise NotFoundError(
            f"version {version_id} does not exist; look versions up by name with "
            f"GET /api/v1/artifacts/ENTITY/PROJECT/NAME"
        )
    return version
