"""Logical entry paths: relative, POSIX-style, never escaping the artifact root."""

from __future__ import annotations

import posixpath

from docket.errors import ValidationError


def clean_entry_path(path: str) -> str:
    """Return ``path`` normalised, or refuse it when it could escape the root."""
    if _plainly_clean(path):
        return path
    if not path or path.strip() == "":
        raise ValidationError(
            "an entry path cannot be empty; pass name= with a file name"
        )
    posix = path.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise ValidationError(
            f"entry path {path!r} is absolute; entries live inside the artifact, "
            f"pass a relative name= such as {posixpath.basename(posix)!r}"
        )
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValidationError(
            f"entry path {path!r} contains '..' and would escape the artifact root; "
            f"pass a name= without '..'"
        )
    if not parts:
        raise ValidationError(f"entry path {path!r} names no file; pass name=")
    return "/".join(parts)


def join_entry_path(prefix: str | None, relative: str) -> str:
    """Join an optional ``name=`` prefix and a relative path into an entry path."""
    if prefix:
        return clean_entry_path(prefix.rstrip("/") + "/" + relative)
    return clean_entry_path(relative)


def _plainly_clean(path: str) -> bool:
    # The common case, checked without splitting: no backslash, no leading or
    # doubled slash, and no segment starting with a dot ("." or ".." included).
    return bool(path) and not (
        path[0] in "/."
        or "\\" in path
        or "//" in path
        or "/." in path
        or path[-1] == "/"
        or ":" in path[:2]
    )
