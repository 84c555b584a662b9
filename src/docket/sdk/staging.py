"""Private copies of files added to an artifact that is not logged yet.

``add_file`` copies the file while hashing it, so editing the original after the
call cannot change what gets logged. The copies are removed once the artifact is
logged or garbage-collected.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import uuid
import weakref
from pathlib import Path

from docket.errors import StorageError, ValidationError
from docket.storage.hashing import CHUNK


class StagingArea:
    """A folder of staged copies, one per artifact."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "staging" / uuid.uuid4().hex
        self._counter = itertools.count()
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.folder, True)

    def stage(self, source: Path) -> tuple[Path, str, int]:
        """Copy ``source`` and return the copy's path, MD5 hex digest and size."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / str(next(self._counter))
        md5 = hashlib.md5()
        size = 0
        try:
            with open(source, "rb") as reader, open(target, "wb") as writer:
                while chunk := reader.read(CHUNK):
                    md5.update(chunk)
                    writer.write(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            raise ValidationError(f"{source} does not exist; check the path") from None
        except IsADirectoryError:
            raise ValidationError(f"{source} is a directory; use add_dir") from None
        except OSError as exc:
            raise StorageError(f"cannot stage {source}: {exc.strerror}") from exc
        return target, md5.hexdigest(), size

    def new_path(self) -> Path:
        """A fresh path inside the staging folder, for ``new_file``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / f"new-{next(self._counter)}"

    def discard(self, path: Path) -> None:
        if path.is_relative_to(self.folder):
            path.unlink(missing_ok=True)

    def cleanup(self) -> None:
        self._finalizer()


def file_size(path: Path) -> int:
    return os.stat(path).st_size
