"""What the UI tests share: a real ``docket ui`` process, Chromium, demo data.

:class:`UIServer` runs ``docket ui`` (the console script of this virtualenv) on a
free port with the environment it is given. :func:`launch_chromium` starts the
Debian Chromium through Playwright; nothing is downloaded. :func:`build_demo`
logs, through the SDK on the embedded store, two artifacts in several versions
(stored files, and references to a versioned and an unversioned S3 bucket) with
a producer run and a consumer run, then changes and deletes two referenced
objects so that the UI has something to flag.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.manifest import Manifest, ManifestEntry
from docket.store import NewVersion, embedded_store
from tests.places.s3 import s3_client
from tests.standins import HOST, S3StandIn, StandIn, http_answers

DOCKET = Path(sys.executable).with_name("docket")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ENTITY = "tester"
PROJECT = "vision"


class UIServer(StandIn):
    """``docket ui --port PORT [ARGS]`` in its own process, with ``env``."""

    name = "docket-ui"

    def __init__(
        self,
        work_dir: Path,
        env: dict[str, str],
        *,
        args: tuple[str, ...] = (),
        name: str | None = None,
    ) -> None:
        if name is not None:
            self.name = name
        super().__init__(work_dir, start_timeout=60.0)
        self.env = env
        self.args = args

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _command(self) -> list[str]:
        if not DOCKET.exists():
            raise FileNotFoundError(
                f"{DOCKET} not found; install docket into this virtualenv with "
                f"`pip install -e .[ui]`"
            )
        return [str(DOCKET), "ui", "--port", str(self.port), *self.args]

    def _ready(self) -> bool:
        return http_answers(f"{self.url}/static/docket.css")

    def _launch(self) -> None:
        # The process gets exactly the environment the test built, not the
        # test's own DOCKET_* settings.
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            super()._launch()
        finally:
            os.environ.clear()
            os.environ.update(saved)


def launch_chromium(playwright: Any) -> Any:
    """The Debian Chromium, headless; fails (never skips) when it is missing."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"{CHROMIUM} not found; run `bash scripts/install-services.sh`"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def tiny_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour, written without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class Demo:
    """What :func:`build_demo` logged, for the tests to look for."""

    home: Path
    env: dict[str, str]
    versioned_bucket: str
    plain_bucket: str
    prepare_run: str
    train_run: str


@contextmanager
def sdk_environment(env: dict[str, str], work: Path) -> Iterator[None]:
    """The SDK pointed at ``env`` (an embedded store) and working in ``work``."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("DOCKET_")]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(work)
        try:
            yield
        finally:
            docket.finish()


def base_env(home: Path, s3: S3StandIn) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    env.pop("AWS_PROFILE", None)
    env.update(s3.env())
    env.update(
        DOCKET_HOME=str(home),
        DOCKET_ENTITY=ENTITY,
        DOCKET_PROJECT=PROJECT,
        DOCKET_PROGRESS="0",
    )
    return env


def build_demo(root: Path, s3: S3StandIn, buckets: tuple[str, str]) -> Demo:
    """Log the demo project through the SDK; see the module docstring."""
    env = base_env(root / "home", s3)
    files = _write_files(root / "files")
    client = s3_client(s3)
    versioned, plain = buckets
    client.create_bucket(Bucket=versioned)
    client.put_bucket_versioning(
        Bucket=versioned, VersioningConfiguration={"Status": "Enabled"}
    )
    client.create_bucket(Bucket=plain)
    client.put_object(Bucket=versioned, Key="images/cat.png", Body=CAT_PNG)
    client.put_object(Bucket=versioned, Key="images/notes.txt", Body=b"cats, mostly\n")
    client.put_object(Bucket=plain, Key="drift/pic.png", Body=CAT_PNG)
    client.put_object(Bucket=plain, Key="drift/gone.txt", Body=b"soon gone\n")
    (root / "work").mkdir()
    with sdk_environment(env, root / "work"):
        prepare = _log_prepare(files, versioned, plain, client)
        train = _log_train(files)
    # The referenced objects change after logging: one overwritten in the
    # unversioned bucket (its logged bytes are gone), one deleted.
    client.put_object(
        Bucket=plain, Key="drift/pic.png", Body=tiny_png(4, 4, (0, 0, 255))
    )
    client.delete_object(Bucket=plain, Key="drift/gone.txt")
    return Demo(root / "home", env, versioned, plain, prepare, train)


CAT_PNG = tiny_png(16, 12, (220, 30, 30))
DOG_PNG = tiny_png(10, 10, (30, 160, 60))


def _write_files(folder: Path) -> Path:
    (folder / "train" / "digits").mkdir(parents=True)
    (folder / "test").mkdir()
    (folder / "README.md").write_text("# mnist\n\nhandwritten digits\n")
    (folder / "labels.csv").write_text("file,label\n0.png,7\n1.png,2\n2.png,1\n")
    (folder / "meta.json").write_text(json.dumps({"classes": 10, "source": "demo"}))
    (folder / "sample.png").write_bytes(tiny_png(8, 8, (20, 20, 200)))
    for index in range(3):
        (folder / "train" / "digits" / f"{index}.png").write_bytes(
            tiny_png(4, 4, (index * 60, 0, 0))
        )
    (folder / "test" / "0.png").write_bytes(tiny_png(4, 4, (0, 99, 0)))
    _write_parquet(folder / "scores.parquet")
    return folder


def _write_parquet(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"epoch": [1, 2, 3], "accuracy": [0.81, 0.9, 0.93]})
    pq.write_table(table, path)


def _log_prepare(files: Path, versioned: str, plain: str, client: Any) -> str:
    with docket.init(job_type="prepare", name="prepare", config={"seed": 7}) as run:
        mnist = docket.Artifact("mnist", type="dataset", description="digits")
        mnist.add_dir(str(files))
        run.log_artifact(mnist, aliases=["best"])
        (files / "README.md").write_text("# mnist\n\nhandwritten digits, v1\n")
        mnist = docket.Artifact("mnist", type="dataset")
        mnist.add_dir(str(files))
        run.log_artifact(mnist)

        photos = docket.Artifact("photos", type="dataset")
        photos.add_reference(f"s3://{versioned}/images/", name="images")
        photos.add_reference(f"s3://{plain}/drift/", name="drift")
        photos.add_file(str(files / "labels.csv"))
        run.log_artifact(photos, aliases=["raw"])
        client.put_object(Bucket=versioned, Key="images/dog.png", Body=DOG_PNG)
        photos = docket.Artifact("photos", type="dataset")
        photos.add_reference(f"s3://{versioned}/images/", name="images")
        photos.add_reference(f"s3://{plain}/drift/", name="drift")
        photos.add_file(str(files / "labels.csv"))
        run.log_artifact(photos)
        return str(run.id)


def _log_train(files: Path) -> str:
    config = {"lr": 0.01, "epochs": 3, "optimizer": "adam"}
    with docket.init(job_type="train", name="train-cnn", config=config) as run:
        run.use_artifact("photos:latest")
        run.use_artifact("mnist:v1")
        model = docket.Artifact("cnn", type="model")
        weights = files.parent / "model.bin"
        weights.write_bytes(bytes(range(64)))
        model.add_file(str(weights))
        settings = files.parent / "train.yaml"
        settings.write_text("lr: 0.01\nepochs: 3\n")
        model.add_reference(settings.as_uri())
        run.log_artifact(model, aliases=["candidate"])
        return str(run.id)


def log_big_version(home: Path, entries: int, project: str = "big") -> str:
    """A version of ``entries`` entries in ``project``, logged through the store.

    Written with the store's own calls (manifest blob, then ``log_version``):
    the SDK would hash as many real files, which is not what is measured here.
    Three quarters are references in 100 folders, a quarter stored files.
    """
    store = embedded_store(home)
    made = []
    for index in range(entries):
        folder = f"shard-{index % 100:03d}"
        if index % 4:
            made.append(
                ManifestEntry(
                    path=f"{folder}/ref-{index:06d}.bin",
                    digest=f"etag:{index:032x}",
                    size=1000 + index,
                    ref=f"s3://bulk/{folder}/ref-{index:06d}.bin",
                    etag=f"{index:032x}",
                    version_id=f"v{index}" if index % 3 else None,
                )
            )
        else:
            made.append(
                ManifestEntry(
                    path=f"{folder}/file-{index:06d}.txt",
                    digest=f"md5:{index:032x}",
                    size=index,
                )
            )
    manifest = Manifest(made)
    key = store.save_manifest(manifest)
    store.metadata.log_version(
        NewVersion(
            entity=ENTITY,
            project=project,
            name="many",
            type="dataset",
            digest=manifest.digest(),
            manifest_key=key,
            size=manifest.size,
            entry_count=len(manifest),
            has_references=manifest.has_references,
        )
    )
    return f"/artifacts/{ENTITY}/{project}/many/v0"
