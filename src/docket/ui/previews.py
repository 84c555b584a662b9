"""Previews of an entry's content: images, text, CSV and JSON heads, Parquet heads.

Stored files are read from the blob store; referenced objects are fetched by the
server through the storage backends (:mod:`docket.ui.fetching`), within the
operator's egress rules (:mod:`docket.ui.egress`). A preview never fails a page:
an object that is gone, changed since logging, refused by the rules or too slow
becomes a :class:`Preview` whose ``state`` says so, and its content is not shown.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import posixpath
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Literal

from docket.errors import DocketError, IntegrityError, ReferenceMissingError
from docket.manifest import ManifestEntry
from docket.store.protocol import StoreAPI
from docket.store.records import VersionRecord
from docket.ui.egress import EgressRules, PreviewRefusedError
from docket.ui.fetching import Check, Fetched, Limits, fetch_entry

Kind = Literal["image", "text", "csv", "json", "parquet"]
State = Literal[
    "ok", "changed", "missing", "refused", "unavailable", "too-large", "binary"
]

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_TEXT = frozenset(
    {".txt", ".md", ".rst", ".log", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini"}
    | {".sh", ".xml", ".html", ".jsonl", ".ndjson", ".sql", ".r", ".js", ".ts"}
    | {".c", ".h", ".cpp", ".java", ".go", ".rs", ".tex", ".srt", ".vocab"}
)
_KINDS: dict[str, Kind] = {
    **dict.fromkeys(IMAGE_TYPES, "image"),
    **dict.fromkeys(_TEXT, "text"),
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".parquet": "parquet",
}
_BADGES: dict[State, str] = {
    "changed": "changed since logging",
    "missing": "object is gone",
    "refused": "preview not allowed",
    "unavailable": "preview unavailable",
    "too-large": "too large to preview",
    "binary": "binary content",
}
_CHECKS: dict[Check, str] = {
    "md5": "Verified: the bytes match the logged MD5",
    "version": "Read from the pinned object version",
    "etag": "Read under the logged ETag",
    "none": "Not verified: nothing recorded to check these bytes against",
}


def kind_of(path: str) -> Kind | None:
    """The preview an entry gets, from its name; ``None`` when it gets none."""
    suffix = posixpath.splitext(path)[1].lower()
    return _KINDS.get(suffix)


@dataclass(frozen=True, slots=True)
class Preview:
    """What the entry page shows about an entry's content."""

    kind: Kind
    state: State
    message: str = ""
    check: Check = "none"
    text: str | None = None
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    truncated: bool = False
    image_type: str | None = None

    @property
    def badge(self) -> str | None:
        return _BADGES.get(self.state)

    @property
    def check_label(self) -> str:
        return _CHECKS[self.check]


@dataclass(frozen=True, slots=True)
class PreviewSettings:
    """The operator's rules and the size of what a preview shows."""

    rules: EgressRules = field(default_factory=EgressRules)
    limits: Limits = field(default_factory=Limits)
    text_bytes: int = 64 * 1024
    rows: int = 50
    image_cache_bytes: int = 64 * 1024 * 1024


class Previewer:
    """Makes previews, and keeps the verified bytes of recent image previews for
    the ``<img>`` request that follows the page."""

    def __init__(self, settings: PreviewSettings) -> None:
        self.settings = settings
        self._images: OrderedDict[tuple[str, str], tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def preview(
        self, store: StoreAPI, version: VersionRecord, entry: ManifestEntry
    ) -> Preview | None:
        """A preview of ``entry``, or ``None`` for a kind of file it cannot show."""
        kind = kind_of(entry.path)
        if kind is None:
            return None
        try:
            fetched = fetch_entry(
                store, version, entry, self.settings.rules, self.settings.limits
            )
        except DocketError as exc:
            return Preview(kind, _state_of(exc), str(exc))
        preview = self._render(kind, fetched)
        if preview.state == "ok" and preview.image_type is not None:
            self._keep_image(version, entry, fetched.data, preview.image_type)
        return preview

    def image(
        self, store: StoreAPI, version: VersionRecord, entry: ManifestEntry
    ) -> tuple[bytes, str] | Preview | None:
        """The verified bytes and media type of an image entry, else why not."""
        key = (version.manifest_key, entry.path)
        with self._lock:
            found = self._images.get(key)
        if found is not None:
            return found
        preview = self.preview(store, version, entry)
        if preview is None or preview.state != "ok" or preview.kind != "image":
            return preview
        with self._lock:
            return self._images.get(key, preview)

    def _keep_image(
        self, version: VersionRecord, entry: ManifestEntry, data: bytes, media: str
    ) -> None:
        with self._lock:
            self._images[(version.manifest_key, entry.path)] = (data, media)
            total = sum(len(d) for d, _ in self._images.values())
            while total > self.settings.image_cache_bytes and len(self._images) > 1:
                dropped, _ = self._images.popitem(last=False)[1]
                total -= len(dropped)

    def _render(self, kind: Kind, fetched: Fetched) -> Preview:
        if not fetched.data and not fetched.complete:
            limit = self.settings.limits.max_bytes // (1024 * 1024)
            return Preview(kind, "too-large", f"larger than {limit} MiB")
        if kind == "image":
            return _image(fetched, self.settings.limits)
        if kind == "parquet":
            return _parquet(fetched, self.settings)
        if kind == "json":
            return _json(fetched, self.settings)
        if kind == "csv":
            return _csv(fetched, self.settings)
        return _text(fetched, self.settings)


def _state_of(exc: DocketError) -> State:
    if isinstance(exc, IntegrityError):  # ReferenceChangedError included
        return "changed"
    if isinstance(exc, ReferenceMissingError):
        return "missing"
    if isinstance(exc, PreviewRefusedError):
        return "refused"
    return "unavailable"  # timeouts, refused credentials, storage failures


def _image(fetched: Fetched, limits: Limits) -> Preview:
    if not fetched.complete:
        limit = limits.max_bytes // (1024 * 1024)
        return Preview("image", "too-large", f"larger than {limit} MiB")
    media = sniff_image(fetched.data)
    if media is None:
        return Preview(
            "image",
            "unavailable",
            "the bytes are not a PNG, JPEG, GIF or WebP image",
            fetched.check,
        )
    return Preview("image", "ok", check=fetched.check, image_type=media)


def sniff_image(data: bytes) -> str | None:
    """The media type the bytes' signature names; never trust the file name."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for media, signatures in _MAGIC.items():
        if data.startswith(signatures):
            return media
    return None


def _head_text(fetched: Fetched, settings: PreviewSettings) -> tuple[str, bool] | None:
    """Up to ``text_bytes`` decoded as UTF-8; ``None`` for binary content."""
    head = fetched.data[: settings.text_bytes]
    if b"\0" in head[:8192]:
        return None
    truncated = not fetched.complete or len(fetched.data) > settings.text_bytes
    return head.decode("utf-8", errors="replace"), truncated


def _text(fetched: Fetched, settings: PreviewSettings) -> Preview:
    head = _head_text(fetched, settings)
    if head is None:
        return Preview("text", "binary", "the file holds binary data", fetched.check)
    text, truncated = head
    return Preview("text", "ok", check=fetched.check, text=text, truncated=truncated)


def _json(fetched: Fetched, settings: PreviewSettings) -> Preview:
    if fetched.complete:
        try:
            document = json.loads(fetched.data)
        except (ValueError, RecursionError):
            document = None
        if document is not None:
            pretty = json.dumps(document, indent=2, ensure_ascii=False)
            shown = pretty[: settings.text_bytes]
            return Preview(
                "json",
                "ok",
                check=fetched.check,
                text=shown,
                truncated=len(shown) < len(pretty),
            )
    return replace(_text(fetched, settings), kind="json")


def _csv(fetched: Fetched, settings: PreviewSettings) -> Preview:
    head = _head_text(fetched, settings)
    if head is None:
        return Preview("csv", "binary", "the file holds binary data", fetched.check)
    text, truncated = head
    if truncated:
        text = text.rpartition("\n")[0]  # the last line may be cut in two
    dialect = "excel-tab" if "\t" in text.partition("\n")[0] else "excel"
    reader = csv.reader(io.StringIO(text), dialect=dialect)
    rows = [tuple(row) for row in itertools.islice(reader, settings.rows + 1)]
    more = truncated or len(rows) > settings.rows
    return Preview(
        "csv",
        "ok",
        check=fetched.check,
        header=rows[0] if rows else (),
        rows=tuple(rows[1 : settings.rows + 1]),
        truncated=more,
    )


def _parquet(fetched: Fetched, settings: PreviewSettings) -> Preview:
    if not fetched.complete:
        limit = settings.limits.max_bytes // (1024 * 1024)
        return Preview("parquet", "too-large", f"larger than {limit} MiB")
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        return Preview(
            "parquet",
            "unavailable",
            "Parquet previews need pyarrow: pip install 'docket[ui]'",
        )
    try:
        table = pq.ParquetFile(pa.BufferReader(fetched.data))
        batch = next(table.iter_batches(batch_size=settings.rows), None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return Preview("parquet", "unavailable", f"not a readable Parquet file: {exc}")
    names = tuple(table.schema_arrow.names)
    rows = [] if batch is None else batch.to_pylist()
    return Preview(
        "parquet",
        "ok",
        message=f"{table.metadata.num_rows:,} rows",
        check=fetched.check,
        header=names,
        rows=tuple(tuple(_cell(row[n]) for n in names) for row in rows),
        truncated=table.metadata.num_rows > len(rows),
    )


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 200 else text[:199] + "…"
