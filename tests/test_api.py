"""``docket.Api``: read access to artifacts, types and runs, and lineage both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

import docket
from docket.errors import NotFoundError, ValidationError


@pytest.fixture
def lineage(folder: Path) -> dict[str, docket.Run]:
    """A producer logs mnist v0 and v1 and a model; a trainer uses mnist and logs
    the model; an evaluator uses the model."""
    producer = docket.init(job_type="ingest")
    data = docket.Artifact("mnist", type="dataset")
    data.add_reference(f"file://{folder}")
    producer.log_artifact(data)
    (folder / "a.txt").write_bytes(b"ALPHA\n")
    data = docket.Artifact("mnist", type="dataset")
    data.add_reference(f"file://{folder}")
    producer.log_artifact(data, aliases=["best"])
    producer.finish()

    trainer = docket.init(job_type="train")
    trainer.use_artifact("mnist:v0", type="dataset")
    model = docket.Artifact("cnn", type="model")
    with model.new_file("weights.bin", mode="wb") as handle:
        handle.write(b"\x01\x02\x03")
    trainer.log_artifact(model)
    trainer.finish()

    evaluator = docket.init(job_type="eval")
    evaluator.use_artifact("cnn:latest")
    evaluator.finish()
    return {"producer": producer, "trainer": trainer, "evaluator": evaluator}


def test_artifact(lineage: dict[str, docket.Run], entity: str) -> None:
    api = docket.Api()
    latest = api.artifact("mnist:latest")
    assert latest.version == "v1"
    assert sorted(latest.aliases) == ["best", "latest"]
    assert api.artifact("mnist").version == "v1"
    assert api.artifact("mnist:v0").version == "v0"
    assert api.artifact("mnist:best", type="dataset").version == "v1"
    assert api.artifact("uncategorized/mnist:v0").version == "v0"
    assert api.artifact(f"{entity}/uncategorized/cnn:v0").type == "model"


def test_artifact_refuses_the_wrong_type(lineage: dict[str, docket.Run]) -> None:
    with pytest.raises(ValidationError) as caught:
        docket.Api().artifact("mnist:latest", type="model")
    assert "dataset" in str(caught.value)


def test_artifact_not_found(lineage: dict[str, docket.Run]) -> None:
    with pytest.raises(NotFoundError):
        docket.Api().artifact("nothing:latest")
    with pytest.raises(NotFoundError):
        docket.Api().artifact("mnist:v9")
    with pytest.raises(NotFoundError):
        docket.Api().artifact("other-project/mnist:latest")


def test_artifacts_lists_versions_oldest_first(lineage: dict[str, docket.Run]) -> None:
    api = docket.Api()
    assert [a.version for a in api.artifacts("dataset", "mnist")] == ["v0", "v1"]
    assert [a.name for a in api.artifacts("dataset", "mnist")] == [
        "mnist:v0",
        "mnist:v1",
    ]
    assert [a.version for a in api.artifacts("model", "cnn")] == ["v0"]
    assert [a.version for a in api.artifacts("dataset", "uncategorized/mnist")] == [
        "v0",
        "v1",
    ]
    assert api.artifacts("model", "mnist") == []
    assert api.artifacts("dataset", "nothing") == []


def test_artifact_exists(lineage: dict[str, docket.Run], entity: str) -> None:
    api = docket.Api()
    assert api.artifact_exists("mnist")
    assert api.artifact_exists("mnist:v1")
    assert api.artifact_exists("mnist:best")
    assert api.artifact_exists(f"{entity}/uncategorized/cnn:latest")
    assert not api.artifact_exists("mnist:v2")
    assert not api.artifact_exists("mnist:worst")
    assert not api.artifact_exists("nothing")
    assert not api.artifact_exists("other/mnist")


def test_artifact_exists_on_an_empty_store() -> None:
    assert not docket.Api().artifact_exists("mnist:latest")


def test_artifact_types(lineage: dict[str, docket.Run], entity: str) -> None:
    types = docket.Api().artifact_types()
    assert [t.name for t in types] == ["dataset", "model"]
    collections = {t.name: t.collections() for t in types}
    assert collections == {"dataset": ["mnist"], "model": ["cnn"]}
    assert [t.name for t in docket.Api().artifact_types("uncategorized")] == [
        "dataset",
        "model",
    ]
    assert [t.name for t in docket.Api().artifact_types(f"{entity}/uncategorized")] == [
        "dataset",
        "model",
    ]
    assert docket.Api().artifact_types("empty-project") == []


def test_run_by_path(lineage: dict[str, docket.Run], entity: str) -> None:
    trainer = lineage["trainer"]
    api = docket.Api()
    for path in (
        trainer.path,
        f"{entity}/uncategorized/{trainer.id}",
        f"{entity}/uncategorized/runs/{trainer.id}",
        f"uncategorized/{trainer.id}",
        trainer.id,
    ):
        run = api.run(path)
        assert run.id == trainer.id
        assert run.job_type == "train"
        assert run.state == "finished"
        assert run.project == "uncategorized"
        assert run.entity == entity
    with pytest.raises(NotFoundError):
        api.run(f"{entity}/uncategorized/nosuchrun")


def test_run_logged_and_used_artifacts(lineage: dict[str, docket.Run]) -> None:
    api = docket.Api()
    producer = api.run(lineage["producer"].path)
    assert [a.name for a in producer.logged_artifacts()] == ["mnist:v0", "mnist:v1"]
    assert producer.used_artifacts() == []

    trainer = api.run(lineage["trainer"].path)
    assert [a.name for a in trainer.used_artifacts()] == ["mnist:v0"]
    assert [a.name for a in trainer.logged_artifacts()] == ["cnn:v0"]

    evaluator = api.run(lineage["evaluator"].path)
    assert [a.name for a in evaluator.used_artifacts()] == ["cnn:v0"]
    assert evaluator.logged_artifacts() == []


def test_logged_by_and_used_by(lineage: dict[str, docket.Run]) -> None:
    api = docket.Api()
    v0 = api.artifact("mnist:v0")
    producer = v0.logged_by()
    assert producer is not None
    assert producer.id == lineage["producer"].id
    assert [r.id for r in v0.used_by()] == [lineage["trainer"].id]

    v1 = api.artifact("mnist:v1")
    assert [r.id for r in v1.used_by()] == []

    cnn = api.artifact("cnn:latest")
    cnn_producer = cnn.logged_by()
    assert cnn_producer is not None
    assert cnn_producer.id == lineage["trainer"].id
    assert [r.id for r in cnn.used_by()] == [lineage["evaluator"].id]


def test_lineage_can_be_walked_from_a_model_to_its_data(
    lineage: dict[str, docket.Run], entity: str
) -> None:
    model = docket.Api().artifact("cnn:latest")
    trainer = model.logged_by()
    assert trainer is not None
    [data] = trainer.used_artifacts()
    assert data.qualified_name == f"{entity}/uncategorized/mnist:v0"
    assert sorted(data.manifest.entries) == ["a.txt", "b.txt", "c.bin", "sub/d.txt"]


def test_using_an_artifact_twice_records_one_link(
    lineage: dict[str, docket.Run],
) -> None:
    run = docket.init()
    run.use_artifact("cnn:v0")
    run.use_artifact("cnn:latest")
    run.finish()
    assert [a.name for a in docket.Api().run(run.path).used_artifacts()] == ["cnn:v0"]


def test_unlogged_artifact_has_no_lineage() -> None:
    draft = docket.Artifact("draft", type="dataset")
    with pytest.raises(ValidationError):
        draft.logged_by()
    with pytest.raises(ValidationError):
        draft.used_by()


@pytest.mark.embedded_only
def test_api_reads_the_configured_store(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with docket.init() as run:
        artifact = docket.Artifact("here", type="dataset")
        artifact.add_reference(f"file://{folder}")
        run.log_artifact(artifact)
    assert docket.Api().artifact_exists("here")
    monkeypatch.setenv("DOCKET_HOME", str(tmp_path / "another-home"))
    assert not docket.Api().artifact_exists("here")


def test_api_default_project_and_entity(
    folder: Path, monkeypatch: pytest.MonkeyPatch, entity: str
) -> None:
    monkeypatch.setenv("DOCKET_PROJECT", "configured")
    with docket.init() as run:
        assert run.project == "configured"
        artifact = docket.Artifact("defaults", type="dataset")
        artifact.add_reference(f"file://{folder}/a.txt")
        run.log_artifact(artifact)
    assert docket.Api().artifact("defaults").qualified_name == (
        f"{entity}/configured/defaults:v0"
    )
    override = docket.Api(overrides={"project": "other"})
    assert not override.artifact_exists("defaults")
    assert override.artifact_exists("configured/defaults")
