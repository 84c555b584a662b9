"""Names, addresses, URIs, entry paths and types that are refused or resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

import docket
from docket import errors
from docket.errors import NotFoundError, ValidationError
from docket.manifest import ManifestEntry

MD5_ALPHA = "9f9f90dbe3e5ee1218c86b8839db1995"  # md5(b"alpha\n")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- the error tree ----------------------------------------------------------------


def test_error_tree() -> None:
    assert issubclass(errors.ValidationError, errors.DocketError)
    assert issubclass(errors.ValidationError, ValueError)
    assert issubclass(errors.TooManyObjectsError, errors.ValidationError)
    assert issubclass(errors.NotFoundError, LookupError)
    assert issubclass(errors.ConflictError, errors.DocketError)
    assert issubclass(errors.IntegrityError, errors.DocketError)
    assert issubclass(errors.ReferenceChangedError, errors.IntegrityError)
    assert issubclass(errors.ReferenceMissingError, FileNotFoundError)
    assert issubclass(errors.ReferenceMissingError, errors.DocketError)
    assert issubclass(errors.StorageError, OSError)
    assert issubclass(errors.AuthError, PermissionError)


# -- artifact names ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["my dataset", "team/mnist", "mnist:v0", "", "x" * 129, "naïve", "tab\tname"],
    ids=["space", "slash", "colon", "empty", "too-long", "non-ascii", "tab"],
)
def test_invalid_artifact_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError) as caught:
        docket.Artifact(name, type="dataset")
    error = caught.value
    assert isinstance(error, ValidationError)
    message = str(error)
    assert repr(name) in message or name in message
    assert "128" in message
    assert "letters" in message


def test_names_up_to_128_characters_with_dots_dashes_and_underscores_are_fine() -> None:
    assert docket.Artifact("x" * 128, type="dataset").name == "x" * 128
    name = "My-data_set.v2"
    assert docket.Artifact(name, type="dataset").name == name


@pytest.mark.parametrize("type_name", ["job", "run_table", "code", "wandb-history"])
def test_reserved_types_are_refused(type_name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        docket.Artifact("thing", type=type_name)
    assert "reserved" in str(caught.value)
    assert type_name in str(caught.value)


def test_wandb_prefixed_types_are_reserved() -> None:
    with pytest.raises(ValidationError):
        docket.Artifact("thing", type="wandb-anything")


def test_invalid_type_names_are_refused() -> None:
    with pytest.raises(ValidationError):
        docket.Artifact("thing", type="data set")
    with pytest.raises(ValidationError):
        docket.Artifact("thing", type="")


def test_invalid_aliases_are_refused(folder: Path) -> None:
    artifact = docket.Artifact("aliased", type="dataset")
    artifact.add_file(folder / "a.txt")
    run = docket.init()
    with pytest.raises(ValidationError):
        run.log_artifact(artifact, aliases=["bad:alias"])
    assert not docket.Api().artifact_exists("aliased")


# -- addresses ---------------------------------------------------------------------


def log_mnist_in(project: str, folder: Path) -> None:
    with docket.init(project=project) as run:
        artifact = docket.Artifact("mnist", type="dataset")
        artifact.add_reference(f"file://{folder}")
        run.log_artifact(artifact, aliases=["best"])


@pytest.mark.parametrize(
    "address",
    [
        "mnist",
        "mnist:latest",
        "mnist:v0",
        "mnist:best",
        "proj/mnist",
        "proj/mnist:latest",
        "proj/mnist:v0",
        "{entity}/proj/mnist",
        "{entity}/proj/mnist:latest",
        "{entity}/proj/mnist:best",
    ],
)
def test_addresses_resolve(address: str, folder: Path, entity: str) -> None:
    address = address.format(entity=entity)
    log_mnist_in("proj", folder)
    run = docket.init(project="proj")
    used = run.use_artifact(address, type="dataset")
    assert used.qualified_name == f"{entity}/proj/mnist:v0"
    fetched = docket.Api(overrides={"project": "proj"}).artifact(address)
    assert fetched.qualified_name == f"{entity}/proj/mnist:v0"


def test_qualified_addresses_reach_another_project(folder: Path, entity: str) -> None:
    log_mnist_in("proj", folder)
    run = docket.init(project="elsewhere")
    assert run.use_artifact("proj/mnist:latest").qualified_name == (
        f"{entity}/proj/mnist:v0"
    )
    assert run.use_artifact(f"{entity}/proj/mnist:v0").version == "v0"
    with pytest.raises(NotFoundError):
        run.use_artifact("mnist:latest")
    assert docket.Api().artifact(f"{entity}/proj/mnist:best").version == "v0"


@pytest.mark.parametrize(
    "address",
    ["a/b/c/mnist:latest", "/mnist", "proj//mnist", "bad name:latest", ""],
)
def test_malformed_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValidationError):
        docket.Api().artifact(address)


def test_unknown_artifact_and_alias_are_not_found(folder: Path) -> None:
    log_mnist_in("uncategorized", folder)
    with pytest.raises(NotFoundError) as caught:
        docket.Api().artifact("nothing:latest")
    assert "nothing" in str(caught.value)
    with pytest.raises(NotFoundError) as caught:
        docket.Api().artifact("mnist:v7")
    assert "v7" in str(caught.value)
    with pytest.raises(NotFoundError) as caught:
        docket.Api().artifact("mnist:nope")
    assert "nope" in str(caught.value)


def test_use_artifact_checks_the_type(folder: Path) -> None:
    log_mnist_in("uncategorized", folder)
    run = docket.init()
    with pytest.raises(ValidationError) as caught:
        run.use_artifact("mnist:latest", type="model")
    assert "dataset" in str(caught.value)
    assert "model" in str(caught.value)


# -- reference URIs ------------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_uri_without_scheme_is_refused_with_a_file_hint(
    folder: Path, relative: bool
) -> None:
    artifact = docket.Artifact("schemeless", type="dataset")
    uri = str(folder).lstrip("/") if relative else str(folder)
    with pytest.raises(ValidationError) as caught:
        artifact.add_reference(uri)
    assert "file://" in str(caught.value)
    assert len(artifact.manifest.entries) == 0


def test_unknown_scheme_is_kept_as_a_tracked_uri(tmp_path: Path) -> None:
    uri = "acme://warehouse/shelf/item.bin"
    artifact = docket.Artifact("tracked", type="dataset")
    [entry] = artifact.add_reference(uri)
    assert entry.path == "item.bin"
    assert entry.ref == uri
    assert uri in entry.digest
    assert entry.size is None

    run = docket.init()
    run.log_artifact(artifact)
    fetched = docket.Api().artifact("tracked:v0")
    assert fetched.get_entry("item.bin").ref == uri
    # Same URI, same version.
    again = docket.Artifact("tracked", type="dataset")
    again.add_reference(uri)
    run.log_artifact(again)
    assert again.version == "v0"
    # It can't be downloaded, and says so.
    with pytest.raises(errors.DocketError) as caught:
        fetched.download(root=tmp_path / "out")
    assert "acme" in str(caught.value)
    assert files_under(tmp_path / "out") == []


# -- entry paths -------------------------------------------------------------------

BAD_PATHS = ["../escape.txt", "sub/../../escape.txt", "/etc/escape.txt", ".."]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_escaping_entry_paths_are_refused_at_add_time(
    bad: str, folder: Path, docket_home: Path
) -> None:
    artifact = docket.Artifact("escapes", type="dataset")
    with pytest.raises(ValidationError):
        artifact.add_file(folder / "a.txt", name=bad)
    with pytest.raises(ValidationError):
        artifact.add_dir(folder, name=bad)
    with pytest.raises(ValidationError), artifact.new_file(bad) as handle:
        handle.write("x")
    with pytest.raises(ValidationError):
        artifact.add_reference(f"file://{folder}/a.txt", name=bad)
    with pytest.raises(ValidationError):
        artifact.add_reference(f"file://{folder}", name=bad)
    assert len(artifact.manifest.entries) == 0
    assert files_under(docket_home) == []
    assert not (folder.parent / "escape.txt").exists()


def test_an_escaping_entry_is_never_written_at_download_time(
    folder: Path, tmp_path: Path
) -> None:
    artifact = docket.Artifact("sneaky", type="dataset")
    artifact.add_reference(f"file://{folder}/a.txt")
    # A manifest edited behind docket's back, as one from an untrusted store could be.
    artifact.manifest.entries["../escape.txt"] = ManifestEntry(
        path="../escape.txt",
        digest=f"md5:{MD5_ALPHA}",
        size=6,
        ref=f"file://{folder}/a.txt",
    )
    root = tmp_path / "deep" / "out"
    run = docket.init()
    try:
        run.log_artifact(artifact)
    except ValidationError:
        return  # refused before anything was stored: as good as refusing later
    with pytest.raises(ValidationError):
        docket.Api().artifact("sneaky:v0").download(root=root)
    assert not (root.parent / "escape.txt").exists()


def test_backslashes_and_dots_are_normalised(folder: Path) -> None:
    artifact = docket.Artifact("normal", type="dataset")
    assert artifact.add_file(folder / "a.txt", name="./x/./a.txt").path == "x/a.txt"
    assert artifact.add_file(folder / "b.txt", name="y//b.txt").path == "y/b.txt"


# -- runs ----------------------------------------------------------------------------


def test_a_finished_run_refuses_to_log(folder: Path) -> None:
    run = docket.init()
    run.finish()
    artifact = docket.Artifact("late", type="dataset")
    artifact.add_file(folder / "a.txt")
    with pytest.raises(ValidationError):
        run.log_artifact(artifact)
    assert not docket.Api().artifact_exists("late")


def test_unlogged_artifact_has_no_version() -> None:
    artifact = docket.Artifact("draft", type="dataset")
    with pytest.raises(ValidationError) as caught:
        _ = artifact.version
    assert "log" in str(caught.value)
    with pytest.raises(ValidationError):
        artifact.download()


def test_invalid_project_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        docket.init(project="my project")
