"""s3:// behaviour beyond the conformance suite, against the moto stand-in.

The guide's S3 samples run as written, with ``import docket as wandb``; the one
other edit is the guide's own ``upload_file`` call, whose keyword names boto3
does not accept (see ``test_the_guides_upload_call_fails_with_boto3_itself``).
"""

from __future__ import annotations

import io
import json
import math
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3

import docket
from docket.errors import (
    MissingExtraError,
    ReferenceChangedError,
    ReferenceMissingError,
    ValidationError,
)
from docket.storage import ObjectRef, s3
from tests.places.s3 import s3_client
from tests.standins import S3StandIn, unique_name

pytestmark = pytest.mark.services

GUIDE_LOG_MNIST = """\
import wandb

run = wandb.init()
artifact = wandb.Artifact(name="mnist", type="dataset")
artifact.add_reference(uri="s3://my-bucket/datasets/mnist")
run.log_artifact(artifact)
run.finish()
"""

GUIDE_DOWNLOAD_MNIST = """\
import wandb

run = wandb.init()
artifact = run.use_artifact("mnist:latest", type="dataset")
artifact_dir = artifact.download()
"""

GUIDE_UPLOAD_AND_LOG_MODEL = """\
import boto3
import wandb

run = wandb.init()

# ここでトレーニング...

s3_client = boto3.client("s3")
s3_client.upload_file(file_name="my_model.h5", bucket="my-bucket", object_name="models/cnn/my_model.h5")

# モデル Artifact をログに記録します
model_artifact = wandb.Artifact("cnn", type="model")
model_artifact.add_reference("s3://my-bucket/models/cnn/")
run.log_artifact(model_artifact)
"""  # noqa: E501 - verbatim

GUIDE_DOWNLOAD_MODEL = """\
import wandb

run = wandb.init()
artifact = run.use_artifact(artifact_or_name = "cnn", type="model")
datadir = artifact.download()
"""

GUIDE_UPLOAD_CALL = (
    's3_client.upload_file(file_name="my_model.h5", bucket="my-bucket", '
    'object_name="models/cnn/my_model.h5")'
)
BOTO3_UPLOAD_CALL = (
    's3_client.upload_file(Filename="my_model.h5", Bucket="my-bucket", '
    'Key="models/cnn/my_model.h5")'
)
MNIST = {"0.png": b"zero", "1.png": b"one!", "labels/train.csv": b"0,1\n"}
N_OBJECTS = 2500
BUDGET = math.ceil(N_OBJECTS / 1000) + 3  # requests to add a prefix of N objects


@pytest.fixture
def s3_env(s3_server: S3StandIn, monkeypatch: pytest.MonkeyPatch) -> S3StandIn:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return s3_server


@pytest.fixture
def client(s3_env: S3StandIn) -> Any:
    return s3_client(s3_env)


@pytest.fixture
def bucket(client: Any, unique_service_name: str) -> str:
    client.create_bucket(Bucket=unique_service_name)
    return unique_service_name


@pytest.fixture
def my_bucket(client: Any) -> Iterator[str]:
    """The guide's bucket name, shared by the session's server: removed afterwards."""
    client.create_bucket(Bucket="my-bucket")
    yield "my-bucket"
    listing = client.get_paginator("list_object_versions").paginate(Bucket="my-bucket")
    for page in listing:
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(
                Bucket="my-bucket", Key=item["Key"], VersionId=item["VersionId"]
            )
    client.delete_bucket(Bucket="my-bucket")


def enable_versioning(client: Any, bucket: str) -> None:
    client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )


def run_sample(source: str) -> dict[str, Any]:
    code = source.replace("import wandb\n", "import docket as wandb\n")
    code = code.replace(GUIDE_UPLOAD_CALL, BOTO3_UPLOAD_CALL)
    namespace: dict[str, Any] = {"__name__": "guide_sample"}
    exec(compile(code, "<guide sample>", "exec"), namespace)
    return namespace


def log(*uris: str, **kwargs: Any) -> docket.Artifact:
    with docket.init(job_type="s3") as run:
        artifact = docket.Artifact("data", type="dataset")
        for uri in uris:
            artifact.add_reference(uri, **kwargs)
        run.log_artifact(artifact)
    return artifact


def tree(root: str | Path) -> dict[str, bytes]:
    base = Path(root)
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def put_many(server: S3StandIn, bucket: str, keys: list[str], body: bytes) -> None:
    # moto checks that a request has an Authorization header but not what it
    # holds; boto3's signing would cost a third of moto's ~250 PUT/s, and these
    # tests write thousands of objects.
    pool = urllib3.PoolManager(maxsize=16)
    base = f"{server.endpoint_url}/{bucket}/"
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 "
        "Credential=testing/20250101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0"
    }

    def put(key: str) -> None:
        response = pool.request("PUT", base + key, body=body, headers=headers)
        assert response.status == 200, response.data

    with ThreadPoolExecutor(16) as workers:
        list(workers.map(put, keys))


def requests_made(server: S3StandIn, uri: str) -> tuple[int, Counter[str]]:
    before = len(server.requests())
    artifact = docket.Artifact("counted", type="dataset")
    artifact.add_reference(uri, max_objects=100_000)
    made = server.requests()[before:]
    return len(made), Counter(r.method for r in made)


# -- the guide's samples ----------------------------------------------------


def test_the_guides_upload_call_fails_with_boto3_itself(client: Any) -> None:
    with pytest.raises(TypeError, match="file_name"):
        client.upload_file(
            file_name="my_model.h5", bucket="my-bucket", object_name="models/x"
        )


def test_guide_upload_log_and_download_a_model(my_bucket: str) -> None:
    Path("my_model.h5").write_bytes(b"model weights v1\n")
    logged = run_sample(GUIDE_UPLOAD_AND_LOG_MODEL)["model_artifact"]
    entry = logged.get_entry("my_model.h5")
    assert entry.ref == "s3://my-bucket/models/cnn/my_model.h5"
    assert entry.digest == "etag:" + entry.etag
    assert entry.size == len(b"model weights v1\n")
    docket.finish()

    datadir = run_sample(GUIDE_DOWNLOAD_MODEL)["datadir"]
    assert tree(datadir) == {"my_model.h5": b"model weights v1\n"}


def test_guide_mnist_prefix_lists_the_folder_only(my_bucket: str, client: Any) -> None:
    for name, data in MNIST.items():
        client.put_object(Bucket=my_bucket, Key=f"datasets/mnist/{name}", Body=data)
    client.put_object(Bucket=my_bucket, Key="datasets/mnist2/other.png", Body=b"no")

    logged = run_sample(GUIDE_LOG_MNIST)["artifact"]
    assert sorted(logged.manifest.entries) == sorted(MNIST)
    assert all(e.version_id is None for e in logged.manifest.entries.values())
    assert tree(run_sample(GUIDE_DOWNLOAD_MNIST)["artifact_dir"]) == MNIST


def test_guide_versioned_bucket_brings_back_the_logged_bytes(
    my_bucket: str, client: Any
) -> None:
    enable_versioning(client, my_bucket)
    for name, data in MNIST.items():
        client.put_object(Bucket=my_bucket, Key=f"datasets/mnist/{name}", Body=data)
    logged = run_sample(GUIDE_LOG_MNIST)["artifact"]
    assert all(e.version_id for e in logged.manifest.entries.values())

    client.put_object(Bucket=my_bucket, Key="datasets/mnist/0.png", Body=b"new!!")
    client.delete_object(Bucket=my_bucket, Key="datasets/mnist/1.png")
    assert tree(run_sample(GUIDE_DOWNLOAD_MNIST)["artifact_dir"]) == MNIST


# -- what an entry records --------------------------------------------------


def test_endpoint_is_recorded_and_secrets_are_not(
    s3_env: S3StandIn, bucket: str, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-key-1234")
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    artifact = log(f"s3://{bucket}/a.txt")

    entry = artifact.get_entry("a.txt")
    assert entry.endpoint == s3_env.endpoint_url
    manifest = artifact.manifest.to_json().decode()
    assert "very-secret-key-1234" not in manifest
    assert json.loads(manifest)  # plain JSON, readable by other tools


def test_downloads_use_the_recorded_endpoint(
    s3_env: S3StandIn, bucket: str, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    artifact = log(f"s3://{bucket}/a.txt")
    for name in s3.ENDPOINT_VARIABLES:
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there

    root = artifact.download(root="out", skip_cache=True)
    assert tree(root) == {"a.txt": b"a"}


def test_endpoint_from_env_drops_credentials_and_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in s3.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert s3.endpoint_from_env() is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://key:secret@minio.lan:9000/?x=1")
    assert s3.endpoint_from_env() == "https://minio.lan:9000"


def test_presigned_urls_are_refused(bucket: str) -> None:
    presigned = (
        f"s3://{bucket}/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIA%2F20250101&X-Amz-Signature=abc123"
    )
    with pytest.raises(ValidationError, match=f"plain s3://{bucket}/a.txt") as caught:
        docket.Artifact("data", type="dataset").add_reference(presigned)
    assert "abc123" not in str(caught.value)  # the signature is not repeated


def test_unknown_query_and_credentials_in_the_uri_are_refused(bucket: str) -> None:
    artifact = docket.Artifact("data", type="dataset")
    with pytest.raises(ValidationError, match="only \\?versionId="):
        artifact.add_reference(f"s3://{bucket}/a.txt?foo=bar")
    with pytest.raises(ValidationError, match="no credentials") as caught:
        artifact.add_reference(f"s3://key:secret@{bucket}/a.txt")
    assert "secret" not in str(caught.value)


def test_version_in_the_uri_records_that_version(bucket: str, client: Any) -> None:
    enable_versioning(client, bucket)
    first = client.put_object(Bucket=bucket, Key="data/a.txt", Body=b"first")
    client.put_object(Bucket=bucket, Key="data/a.txt", Body=b"second, longer")

    artifact = log(f"s3://{bucket}/data/a.txt?versionId={first['VersionId']}")
    entry = artifact.get_entry("a.txt")
    assert entry.version_id == first["VersionId"]
    assert entry.etag == first["ETag"].strip('"')
    assert entry.size == len(b"first")
    assert entry.ref == f"s3://{bucket}/data/a.txt"


def test_stat_reads_the_pinned_version_without_its_bytes(
    s3_env: S3StandIn, bucket: str, client: Any
) -> None:
    enable_versioning(client, bucket)
    first = client.put_object(Bucket=bucket, Key="a.txt", Body=b"first")
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"second, longer")
    backend = s3.S3Backend()

    pinned = backend.stat(ObjectRef(f"s3://{bucket}/a.txt", first["VersionId"]))
    assert (pinned.size, pinned.version_id) == (5, first["VersionId"])
    assert backend.stat(ObjectRef(f"s3://{bucket}/a.txt")).size == 14
    assert s3_env.requests()[-1].method == "HEAD"
    with pytest.raises(ReferenceMissingError):
        backend.stat(ObjectRef(f"s3://{bucket}/gone.txt"))


def test_additional_checksums_of_a_single_object(bucket: str, client: Any) -> None:
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"a", ChecksumAlgorithm="SHA256")
    entry = log(f"s3://{bucket}/a.txt").get_entry("a.txt")
    # sha256(b"a"), base64 as S3 encodes it
    assert entry.checksums["sha256"] == "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="


def test_keys_with_query_and_fragment_characters_round_trip(
    bucket: str, client: Any, tmp_path: Path
) -> None:
    odd = {"data/a?b.txt": b"q", "data/c#d.txt": b"h", "data/100%.txt": b"p"}
    for key, data in odd.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    artifact = log(f"s3://{bucket}/data")

    assert sorted(artifact.manifest.entries) == ["100%.txt", "a?b.txt", "c#d.txt"]
    assert artifact.get_entry("a?b.txt").ref == f"s3://{bucket}/data/a%3Fb.txt"
    root = artifact.download(root=tmp_path / "out")
    assert tree(root) == {"100%.txt": b"p", "a?b.txt": b"q", "c#d.txt": b"h"}


def test_directory_content_type_objects_are_folders(bucket: str, client: Any) -> None:
    client.put_object(
        Bucket=bucket, Key="data", Body=b"", ContentType="application/x-directory"
    )
    client.put_object(Bucket=bucket, Key="data/x", Body=b"x")
    assert list(log(f"s3://{bucket}/data").manifest.entries) == ["x"]


def test_an_empty_prefix_is_missing(bucket: str) -> None:
    with pytest.raises(ReferenceMissingError, match=f"s3://{bucket}/nothing"):
        log(f"s3://{bucket}/nothing")


# -- request budget: ceil(N/1000) + 3 ---------------------------------------


def test_listing_an_unversioned_bucket_meets_the_request_budget(
    s3_env: S3StandIn, bucket: str
) -> None:
    keys = [f"data/{i:05d}.bin" for i in range(N_OBJECTS)]
    put_many(s3_env, bucket, keys, b"x")

    count, methods = requests_made(s3_env, f"s3://{bucket}/data")
    assert count <= BUDGET
    assert methods == {"HEAD": 1, "GET": 1 + math.ceil(N_OBJECTS / 1000)}


def test_listing_a_versioned_bucket_costs_a_page_per_1000_versions(
    s3_env: S3StandIn, bucket: str, client: Any
) -> None:
    enable_versioning(client, bucket)
    keys = [f"data/{i:05d}.bin" for i in range(N_OBJECTS)]
    put_many(s3_env, bucket, keys, b"first")

    count, methods = requests_made(s3_env, f"s3://{bucket}/data")
    assert count <= BUDGET
    assert methods["HEAD"] == 1

    # S3 and moto fill ListObjectVersions pages with 1,000 *versions*: a second
    # version of 1,501 keys adds two pages, one more request than the budget.
    put_many(s3_env, bucket, keys[:1501], b"second")
    count, _ = requests_made(s3_env, f"s3://{bucket}/data")
    assert count == math.ceil((N_OBJECTS + 1501) / 1000) + 2 == BUDGET + 1


@pytest.fixture
def restricted(
    s3_env: S3StandIn, client: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Make IAM users allowed only ``actions``; moto enforces IAM meanwhile."""
    iam = boto3.client(
        "iam", endpoint_url=s3_env.endpoint_url, region_name=s3_env.region
    )

    def login_as(bucket: str, actions: list[str]) -> None:
        user = unique_name("reader")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
        iam.create_user(UserName=user)
        iam.put_user_policy(
            UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        moto_auth(s3_env, "0")  # from now on, every request is checked

    try:
        yield login_as
    finally:
        moto_auth(s3_env, "inf")


def moto_auth(server: S3StandIn, free_requests: str) -> None:
    request = urllib.request.Request(
        f"{server.endpoint_url}/moto-api/reset-auth",
        data=free_requests.encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


@pytest.mark.parametrize(
    "allowed",
    [
        ["s3:GetObject", "s3:ListBucket"],
        ["s3:GetObject", "s3:ListBucket", "s3:GetBucketVersioning"],
    ],
    ids=["no-GetBucketVersioning", "no-ListBucketVersions"],
)
def test_listing_without_version_permissions_falls_back_and_warns(
    s3_env: S3StandIn,
    bucket: str,
    client: Any,
    restricted: Any,
    allowed: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    enable_versioning(client, bucket)
    client.put_object(Bucket=bucket, Key="data/a.txt", Body=b"a")
    restricted(bucket, allowed)
    before = len(s3_env.requests())

    infos = list(s3.S3Backend().resolve(f"s3://{bucket}/data", max_objects=10))
    assert [(i.name, i.version_id, i.size) for i in infos] == [("a.txt", None, 1)]
    assert len(s3_env.requests()) - before <= BUDGET
    assert "listed without version ids" in caplog.text


# -- downloads ----------------------------------------------------------------


def test_etag_only_entry_finds_the_older_version_once_versioning_is_on(
    bucket: str, client: Any, tmp_path: Path
) -> None:
    client.put_object(Bucket=bucket, Key="data/a.txt", Body=b"logged")
    client.put_object(Bucket=bucket, Key="data/b.txt", Body=b"logged b")
    artifact = log(f"s3://{bucket}/data")
    assert artifact.get_entry("a.txt").version_id is None

    enable_versioning(client, bucket)
    client.put_object(Bucket=bucket, Key="data/a.txt", Body=b"overwritten")
    client.delete_object(Bucket=bucket, Key="data/b.txt")
    root = artifact.download(root=tmp_path / "out", skip_cache=True)
    assert tree(root) == {"a.txt": b"logged", "b.txt": b"logged b"}


def test_changed_object_error_names_both_etags(
    bucket: str, client: Any, tmp_path: Path
) -> None:
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"logged")
    artifact = log(f"s3://{bucket}/a.txt")
    now = client.put_object(Bucket=bucket, Key="a.txt", Body=b"changed")

    with pytest.raises(ReferenceChangedError) as caught:
        artifact.download(root=tmp_path / "out")
    assert caught.value.expected == f"etag {artifact.get_entry('a.txt').etag}"
    assert caught.value.found == "etag " + now["ETag"].strip('"')
    assert not caught.value.pinned


def test_changed_object_without_permission_to_list_versions(
    bucket: str, client: Any, restricted: Any
) -> None:
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"logged")
    (logged,) = s3.S3Backend().resolve(f"s3://{bucket}/a.txt", max_objects=1)
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"changed")
    restricted(bucket, ["s3:GetObject", "s3:ListBucket"])

    ref = ObjectRef(logged.uri, etag=logged.etag, size=logged.size)
    sink = io.BytesIO()
    with pytest.raises(ReferenceChangedError) as caught:
        s3.S3Backend().fetch(ref, sink)
    assert caught.value.expected == f"etag {logged.etag}"
    assert sink.getvalue() == b""


def test_large_objects_come_back_whole_through_ranges(
    bucket: str, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3, "RANGED_ABOVE", 1 << 20)
    monkeypatch.setattr(s3, "PART_SIZE", 256 << 10)
    data = bytes(range(256)) * (12 << 10)  # 3 MiB: 12 parts, 4 fetched at a time
    client.put_object(Bucket=bucket, Key="big.bin", Body=data)
    artifact = log(f"s3://{bucket}/big.bin")

    root = artifact.download(root=tmp_path / "out")
    assert (Path(root) / "big.bin").read_bytes() == data


def test_missing_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'docket\[s3\]'"):
        list(s3.S3Backend().resolve("s3://bucket/key", max_objects=1))
