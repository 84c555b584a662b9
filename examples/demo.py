"""docket's main job on the embedded store, end to end.

Logs a reference artifact of a sample folder, changes the folder and logs v1,
downloads v0 again, shows the lineage, and shows what happens when a referenced
file is overwritten. Run it with ``scripts/demo.sh``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import docket as wandb
from docket.errors import ReferenceChangedError

HERE = Path(__file__).resolve().parent.parent / ".demo"
DATA = HERE / "mount" / "datasets" / "mnist"


def make_sample_folder() -> None:
    shutil.rmtree(HERE, ignore_errors=True)
    for digit in range(3):
        folder = DATA / str(digit)
        folder.mkdir(parents=True)
        for i in range(4):
            (folder / f"img_{i}.txt").write_text(f"digit {digit}, sample {i}\n")
    print(f"sample folder: {DATA} (12 files)")


def log_dataset(note: str) -> wandb.Artifact:
    with wandb.init(project="docket-demo", job_type="prepare") as run:
        artifact = wandb.Artifact("mnist", type="dataset", description=note)
        artifact.add_reference(f"file://{DATA}/")
        run.log_artifact(artifact)
    print(f"logged {artifact.qualified_name}: {len(artifact.manifest)} entries, {note}")
    return artifact


def main() -> int:
    make_sample_folder()
    log_dataset("first snapshot")
    again = log_dataset("same files again")
    assert again.version == "v0", "unchanged files must not make a new version"

    (DATA / "3").mkdir()
    (DATA / "3" / "img_0.txt").write_text("digit 3, sample 0\n")
    log_dataset("one file added")

    with wandb.init(project="docket-demo", job_type="train") as run:
        v0 = run.use_artifact("mnist:v0", type="dataset")
        folder = v0.download(root=HERE / "artifacts" / "mnist-v0")
        print(f"downloaded {v0.name} to {folder}")
        run.log_artifact(_model(run.id), aliases=["candidate"])

    print("\nlineage:")
    api = wandb.Api(overrides={"project": "docket-demo"})
    for version in api.artifacts("dataset", "mnist"):
        producers = ", ".join(r.id for r in [version.logged_by()] if r)
        consumers = ", ".join(r.id for r in version.used_by()) or "-"
        print(
            f"  {version.name:<10} aliases={version.aliases} "
            f"by={producers} used by={consumers}"
        )
    model = api.artifact("cnn:candidate")
    producer = model.logged_by()
    assert producer is not None
    inputs = [a.name for a in api.run(f"docket-demo/{producer.id}").used_artifacts()]
    print(f"  {model.name} was logged by run {producer.id}, which used {inputs}")

    (DATA / "0" / "img_0.txt").write_text("overwritten after logging\n")
    print("\noverwrote 0/img_0.txt; v0 can still be rebuilt from the verified cache:")
    print("  ", v0.download(root=HERE / "artifacts" / "again"))
    try:
        v0.download(root=HERE / "artifacts" / "no-cache", skip_cache=True)
    except ReferenceChangedError as exc:
        print(f"without the cache docket refuses the changed file:\n   {exc}")
    return 0


def _model(run_id: str) -> wandb.Artifact:
    model = wandb.Artifact("cnn", type="model", metadata={"trained_by": run_id})
    with model.new_file("weights.txt") as handle:
        handle.write("0.1 0.2 0.3\n")
    return model


if __name__ == "__main__":
    sys.exit(main())
