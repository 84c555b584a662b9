"""The store's records as the HTTP API writes them: JSON objects, ISO 8601 times.

The field names are the records' own (``docket.store.records``), so decoding is
one keyword call per record; only times and tuples need converting.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from docket.errors import StorageError
from docket.store.records import NewVersion, RunRecord, VersionRecord


def new_version_json(new: NewVersion) -> dict[str, Any]:
    document = asdict(new)
    document["aliases"] = list(new.aliases)
    document["metadata"] = dict(new.metadata)
    return document


def version_record(document: Any) -> VersionRecord:
    try:
        return VersionRecord(
            id=int(document["id"]),
            entity=document["entity"],
            project=document["project"],
            name=document["name"],
            type=document["type"],
            index=int(document["index"]),
            digest=document["digest"],
            manifest_key=document["manifest_key"],
            size=int(document["size"]),
            entry_count=int(document["entry_count"]),
            has_references=bool(document["has_references"]),
            aliases=tuple(document["aliases"]),
            created_at=_time(document["created_at"]),
            created_by=document.get("created_by"),
            description=document.get("description"),
            metadata=document.get("metadata") or {},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed("version", exc) from exc


def run_record(document: Any) -> RunRecord:
    try:
        finished = document.get("finished_at")
        return RunRecord(
            uid=document["uid"],
            entity=document["entity"],
            project=document["project"],
            name=document.get("name"),
            job_type=document.get("job_type"),
            state=document["state"],
            created_at=_time(document["created_at"]),
            config=document.get("config") or {},
            finished_at=None if finished is None else _time(finished),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed("run", exc) from exc


def _time(text: str) -> datetime:
    # Python 3.10's fromisoformat does not read a trailing "Z".
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _malformed(what: str, exc: Exception) -> StorageError:
    return StorageError(
        f"the tracking server sent a {what} record docket cannot read ({exc!r}); "
        f"is the server running the same docket version as this client?"
    )
