"""Request and answer bodies of the HTTP API; pydantic lives here and nowhere else.

Requests refuse unknown fields, and every string and number is bounded as tightly
as the column that stores it, so no input reaches the database that it would
refuse with an error of its own.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from docket.names import validate_alias, validate_name, validate_type
from docket.store.records import NewVersion, RunRecord, VersionRecord

MAX_ALIASES = 100
MAX_JSON_DEPTH = 64
MAX_TEXT = 1_000_000
MAX_INT64 = 2**63 - 1
MAX_ID = 2**31 - 1

BLOB_KEY_PATTERN = r"^(md5:[0-9a-f]{32}|sha256:[0-9a-f]{64})$"
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
UID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
ALIAS_PATTERN = r"^[A-Za-z0-9_.\-/ ]{1,128}$"


def _storable(text: str) -> str:
    # PostgreSQL refuses NUL characters in text and lone surrogates in JSON.
    if "\x00" in text:
        raise ValueError("text may not contain NUL characters")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (a lone surrogate?)") from None
    return text


def _plain_json(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse NaN and infinities (not JSON, refused by PostgreSQL) and deep nesting."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("NaN and infinite numbers are not JSON")
        if isinstance(item, str):
            _storable(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _storable(key)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return value


def _entity(text: str) -> str:
    return validate_name(text, what="entity name")


def _project(text: str) -> str:
    return validate_name(text, what="project name")


# The patterns document the rules in the OpenAPI description; docket's own
# validators then refuse with their messages, which name the next step.
_Named = Annotated[str, Field(json_schema_extra={"pattern": NAME_PATTERN})]
Entity = Annotated[_Named, AfterValidator(_entity)]
Project = Annotated[_Named, AfterValidator(_project)]
ArtifactName = Annotated[_Named, AfterValidator(validate_name)]
ArtifactType = Annotated[_Named, AfterValidator(validate_type)]
Alias = Annotated[
    str,
    Field(json_schema_extra={"pattern": ALIAS_PATTERN}),
    AfterValidator(validate_alias),
]
RunUid = Annotated[str, StringConstraints(pattern=UID_PATTERN)]
ShortText = Annotated[str, StringConstraints(max_length=128), AfterValidator(_storable)]
LongText = Annotated[
    str, StringConstraints(max_length=MAX_TEXT), AfterValidator(_storable)
]
JsonObject = Annotated[dict[str, Any], AfterValidator(_plain_json)]
Digest = Annotated[str, StringConstraints(pattern=DIGEST_PATTERN)]
BlobKey = Annotated[str, StringConstraints(pattern=BLOB_KEY_PATTERN)]
Size = Annotated[int, Field(ge=0, le=MAX_INT64)]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- requests ----------------------------------------------------------------------


class NewRun(RequestBody):
    entity: Entity
    project: Project
    uid: RunUid
    name: ShortText | None = None
    job_type: ShortText | None = None
    config: JsonObject = Field(default_factory=dict)


class RunFinish(RequestBody):
    state: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_-]{1,16}$")]


class NewVersionBody(RequestBody):
    """The fields of ``docket.store.records.NewVersion``."""

    entity: Entity
    project: Project
    name: ArtifactName
    type: ArtifactType
    digest: Digest
    manifest_key: Digest
    size: Size
    entry_count: Annotated[int, Field(ge=0, le=MAX_ID)]
    has_references: bool
    aliases: Annotated[list[Alias], Field(max_length=MAX_ALIASES)] = Field(
        default_factory=list
    )
    description: LongText | None = None
    metadata: JsonObject = Field(default_factory=dict)
    run_uid: RunUid | None = None

    def record(self) -> NewVersion:
        return NewVersion(
            entity=self.entity,
            project=self.project,
            name=self.name,
            type=self.type,
            digest=self.digest,
            manifest_key=self.manifest_key,
            size=self.size,
            entry_count=self.entry_count,
            has_references=self.has_references,
            aliases=tuple(dict.fromkeys(self.aliases)),
            description=self.description,
            metadata=dict(self.metadata),
            run_uid=self.run_uid,
        )


class VersionUpdate(RequestBody):
    """Fields left out keep their stored value."""

    description: LongText | None = None
    metadata: JsonObject | None = None


class AliasList(RequestBody):
    aliases: Annotated[list[Alias], Field(max_length=MAX_ALIASES)]


class VersionUse(RequestBody):
    entity: Entity
    project: Project
    run_uid: RunUid


class BlobKeys(RequestBody):
    # The route checks the count against the server's own limit.
    keys: list[BlobKey]


# -- answers -----------------------------------------------------------------------


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; docket always stores UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


class Run(BaseModel):
    uid: str
    entity: str
    project: str
    name: str | None
    job_type: str | None
    state: str
    created_at: datetime
    finished_at: datetime | None
    config: dict[str, Any]

    @classmethod
    def of(cls, record: RunRecord) -> Run:
        return cls(
            uid=record.uid,
            entity=record.entity,
            project=record.project,
            name=record.name,
            job_type=record.job_type,
            state=record.state,
            created_at=_aware(record.created_at) or record.created_at,
            finished_at=_aware(record.finished_at),
            config=dict(record.config),
        )


class Version(BaseModel):
    id: int
    entity: str
    project: str
    name: str
    type: str
    index: int
    digest: str
    manifest_key: str
    size: int
    entry_count: int
    has_references: bool
    aliases: list[str]
    created_at: datetime
    created_by: str | None
    description: str | None
    metadata: dict[str, Any]

    @classmethod
    def of(cls, record: VersionRecord) -> Version:
        return cls(
            id=record.id,
            entity=record.entity,
            project=record.project,
            name=record.name,
            type=record.type,
            index=record.index,
            digest=record.digest,
            manifest_key=record.manifest_key,
            size=record.size,
            entry_count=record.entry_count,
            has_references=record.has_references,
            aliases=list(record.aliases),
            created_at=_aware(record.created_at) or record.created_at,
            created_by=record.created_by,
            description=record.description,
            metadata=dict(record.metadata),
        )


class LoggedVersion(BaseModel):
    version: Version
    created: bool


class WhoAmI(BaseModel):
    user: str
    entities: list[str]


class ProjectName(BaseModel):
    entity: str
    name: str


class Collection(BaseModel):
    name: str
    type: str


class MissingKeys(BaseModel):
    missing: list[str]


class Health(BaseModel):
    status: str


class ErrorDetail(BaseModel):
    type: str
    message: str
    missing: list[str] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
