"""Who is looking, and which entities they may read.

The UI never decides access itself: whoever mounts it passes a hook that turns a
request into a :class:`Viewer`. ``docket ui`` lets its one local user read
everything under ``DOCKET_HOME`` (:func:`everyone`); the tracking server signs
people in with an API key kept in a cookie (:func:`api_key_viewer`). Anything
in an entity the viewer may not read answers exactly like something that does
not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from docket.errors import AuthError

SESSION_COOKIE = "docket_ui_key"


class SignInRequiredError(AuthError):
    """The request names no viewer; the UI answers with its sign-in page."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """A person looking at the UI: a name, and the entities they may read.

    ``entities`` is ``None`` when every entity is readable (``docket ui``).
    """

    name: str | None
    entities: frozenset[str] | None
    signed_in: bool = False

    def may_read(self, entity: str) -> bool:
        return self.entities is None or entity in self.entities


ViewerHook = Callable[[Request], Viewer]
# An API key -> (user name, entities the user belongs to); raises AuthError.
Authenticate = Callable[[str], tuple[str, frozenset[str]]]


def everyone(request: Request) -> Viewer:
    """The local viewer of ``docket ui``: the store's owner, who reads everything."""
    return Viewer(name=None, entities=None)


def api_key_viewer(authenticate: Authenticate) -> ViewerHook:
    """A hook that reads the API key from the sign-in cookie (or a bearer header)."""

    def viewer(request: Request) -> Viewer:
        key = request.cookies.get(SESSION_COOKIE) or _bearer_key(request)
        if not key:
            raise SignInRequiredError(
                "sign in with an API key; `docket admin create-key USER` prints one"
            )
        name, entities = authenticate(key)
        return Viewer(name=name, entities=entities, signed_in=True)

    return viewer


def _bearer_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
