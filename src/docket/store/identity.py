"""Users, the entities they belong to, and their API keys.

Every user owns the entity of their own name and may belong to team entities. An
API key reads ``dk_<key id>_<secret>``: the key id finds the row, and only a salted
SHA-256 of the secret is stored, compared in constant time. The secret is 32 random
bytes, so a fast hash is enough: there is nothing to guess from a dictionary.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from docket.errors import AuthError, ConflictError, NotFoundError
from docket.names import validate_name
from docket.store.schema import entities, metadata

log = logging.getLogger(__name__)

KEY_PREFIX = "dk_"
_TZ = DateTime(timezone=True)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column(
        "entity_id", Integer, ForeignKey("entities.id"), nullable=False, unique=True
    ),
    Column("created_at", _TZ, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("entity_id", Integer, ForeignKey("entities.id"), primary_key=True),
    Column("created_at", _TZ, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", _TZ, nullable=False),
    Column("revoked_at", _TZ),
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: a user and every entity they may read and write."""

    user: str
    entities: frozenset[str]

    def belongs_to(self, entity: str) -> bool:
        return entity in self.entities


@dataclass(frozen=True, slots=True)
class UserSummary:
    name: str
    entities: tuple[str, ...]
    key_ids: tuple[str, ...]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def _split_key(api_key: str) -> tuple[str, str] | None:
    if not api_key.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = api_key[len(KEY_PREFIX) :].partition("_")
    if len(key_id) != 16 or not secret:
        return None
    return key_id, secret


class IdentityStore:
    """Creates users and keys, and turns an API key into a :class:`Caller`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- administration ----------------------------------------------------------

    def create_user(self, name: str, *, teams: Iterable[str] = ()) -> str:
        """Create a user, its own entity and team memberships; return an API key."""
        validate_name(name, what="user name")
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.name == name)).first():
                raise ConflictError(
                    f"user {name!r} already exists; `docket admin create-key {name}` "
                    f"makes another key for it"
                )
            entity_id = self._entity_id(conn, name)
            if self._has_members(conn, entity_id):
                raise ConflictError(
                    f"{name!r} is already a team; choose another user name"
                )
            user_id = conn.execute(
                insert(users).values(name=name, entity_id=entity_id, created_at=_now())
            ).inserted_primary_key[0]  # type: ignore[index]
            self._join(conn, user_id, entity_id)
            for team in teams:
                self._join_team(conn, user_id, team)
            return self._new_key(conn, user_id)

    def create_key(self, user: str) -> str:
        """A new API key for an existing user; older keys keep working."""
        with self.engine.begin() as conn:
            return self._new_key(conn, self._user_id(conn, user))

    def add_member(self, user: str, team: str) -> None:
        """Let ``user`` read and write in ``team`` (created if missing)."""
        with self.engine.begin() as conn:
            self._join_team(conn, self._user_id(conn, user), team)

    def revoke_key(self, key: str) -> None:
        """Refuse a key (given whole or by its id) from now on."""
        parts = _split_key(key)
        key_id = parts[0] if parts else key
        with self.engine.begin() as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        if result.rowcount == 0:
            raise NotFoundError(
                f"no active API key with id {key_id!r}; `docket admin list-users` "
                f"shows the key ids"
            )

    def list_users(self) -> list[UserSummary]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users.c.id, users.c.name).order_by(users.c.name))
            return [
                UserSummary(
                    name=row.name,
                    entities=tuple(sorted(self._entities(conn, row.id))),
                    key_ids=self._key_ids(conn, row.id),
                )
                for row in rows.all()
            ]

    # -- authentication ----------------------------------------------------------

    def authenticate(self, api_key: str) -> Caller:
        """The caller an API key stands for; ``AuthError`` for any bad key."""
        parts = _split_key(api_key)
        with self.engine.connect() as conn:
            row = None
            if parts is not None:
                row = conn.execute(
                    select(
                        api_keys.c.salt,
                        api_keys.c.secret_hash,
                        users.c.id,
                        users.c.name,
                    )
                    .join(users, users.c.id == api_keys.c.user_id)
                    .where(
                        api_keys.c.key_id == parts[0], api_keys.c.revoked_at.is_(None)
                    )
                ).first()
            if row is None or parts is None:
                raise AuthError(_REFUSED)
            if not hmac.compare_digest(_hash(row.salt, parts[1]), row.secret_hash):
                raise AuthError(_REFUSED)
            return Caller(user=row.name, entities=self._entities(conn, row.id))

    # -- helpers -----------------------------------------------------------------

    def _new_key(self, conn: Connection, user_id: int) -> str:
        key_id = secrets.token_hex(8)
        secret = secrets.token_hex(32)
        salt = secrets.token_hex(16)
        conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                user_id=user_id,
                salt=salt,
                secret_hash=_hash(salt, secret),
                created_at=_now(),
            )
        )
        log.info("created API key %s for user id %s", key_id, user_id)
        return f"{KEY_PREFIX}{key_id}_{secret}"

    def _join_team(self, conn: Connection, user_id: int, team: str) -> None:
        validate_name(team, what="team name")
        if conn.execute(select(users.c.id).where(users.c.name == team)).first():
            raise ConflictError(
                f"{team!r} is a user's own entity, not a team; choose another team name"
            )
        self._join(conn, user_id, self._entity_id(conn, team))

    def _join(self, conn: Connection, user_id: int, entity_id: int) -> None:
        exists = conn.execute(
            select(memberships.c.user_id).where(
                memberships.c.user_id == user_id, memberships.c.entity_id == entity_id
            )
        ).first()
        if exists is None:
            conn.execute(
                insert(memberships).values(
                    user_id=user_id, entity_id=entity_id, created_at=_now()
                )
            )

    def _entity_id(self, conn: Connection, name: str) -> int:
        query = select(entities.c.id).where(entities.c.name == name)
        entity_id = conn.execute(query).scalar()
        if entity_id is not None:
            return int(entity_id)
        try:
            with conn.begin_nested():
                conn.execute(insert(entities).values(name=name))
        except sa_exc.IntegrityError:
            pass  # a run created it at the same moment; its row is as good
        return int(conn.execute(query).scalar_one())

    def _has_members(self, conn: Connection, entity_id: int) -> bool:
        query = select(memberships.c.user_id).where(
            memberships.c.entity_id == entity_id
        )
        return conn.execute(query.limit(1)).first() is not None

    def _user_id(self, conn: Connection, name: str) -> int:
        user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        if user_id is None:
            raise NotFoundError(
                f"user {name!r} does not exist; create it with "
                f"`docket admin create-user {name}`"
            )
        return int(user_id)

    def _entities(self, conn: Connection, user_id: int) -> frozenset[str]:
        rows = conn.execute(
            select(entities.c.name)
            .join(memberships, memberships.c.entity_id == entities.c.id)
            .where(memberships.c.user_id == user_id)
        )
        return frozenset(rows.scalars())

    def _key_ids(self, conn: Connection, user_id: int) -> tuple[str, ...]:
        rows = conn.execute(
            select(api_keys.c.key_id)
            .where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
            .order_by(api_keys.c.created_at)
        )
        return tuple(rows.scalars())


_REFUSED = (
    "the API key is missing, malformed, revoked or unknown; send "
    "'Authorization: Bearer <key>' with a key from `docket admin create-key USER`"
)
