"""Smoke tests: each stand-in does what docket's tests rely on."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests import standins
from tests.standins import (
    AzureStandIn,
    GCSStandIn,
    NginxStandIn,
    PostgresStandIn,
    S3StandIn,
    ServiceNotInstalledError,
    ServiceStartError,
)

pytestmark = pytest.mark.services


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


# --------------------------------------------------------------------------- S3


def _s3_client(server: S3StandIn) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )


def test_s3_versioned_bucket_keeps_old_bytes(
    s3_server: S3StandIn, unique_service_name: str
) -> None:
    s3 = _s3_client(s3_server)
    bucket = unique_service_name
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    first = s3.put_object(Bucket=bucket, Key="data/x.bin", Body=b"old bytes")
    s3.put_object(Bucket=bucket, Key="data/x.bin", Body=b"new bytes")

    old = s3.get_object(Bucket=bucket, Key="data/x.bin", VersionId=first["VersionId"])
    assert old["Body"].read() == b"old bytes"
    latest = s3.get_object(Bucket=bucket, Key="data/x.bin")
    assert latest["Body"].read() == b"new bytes"

    versions = s3.list_object_versions(Bucket=bucket, Prefix="data/")["Versions"]
    assert len(versions) == 2
    assert {v["VersionId"] for v in versions} >= {first["VersionId"]}
    assert [v["IsLatest"] for v in versions].count(True) == 1
    assert all(v["ETag"] and v["Size"] == 9 for v in versions)


def test_s3_request_count_counts_each_call(
    s3_server: S3StandIn, unique_service_name: str
) -> None:
    s3 = _s3_client(s3_server)
    before = s3_server.request_count()

    s3.create_bucket(Bucket=unique_service_name)
    s3.put_object(Bucket=unique_service_name, Key="k", Body=b"1")
    s3.head_object(Bucket=unique_service_name, Key="k")
    s3.list_objects_v2(Bucket=unique_service_name)
    s3_server.reset()  # moto's own API is not counted

    assert s3_server.request_count() - before == 4
    methods = [r.method for r in s3_server.requests()[before:]]
    assert methods == ["PUT", "PUT", "HEAD", "GET"]


def test_s3_reset_drops_buckets(s3_server: S3StandIn, unique_service_name: str) -> None:
    s3 = _s3_client(s3_server)
    s3.create_bucket(Bucket=unique_service_name)
    s3_server.reset()
    assert s3.list_buckets()["Buckets"] == []


# -------------------------------------------------------------------------- GCS


def _gcs_client(server: GCSStandIn, monkeypatch: pytest.MonkeyPatch) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return storage.Client(project=server.project, credentials=AnonymousCredentials())


def test_gcs_versioned_bucket_keeps_old_generation(
    gcs_server: GCSStandIn, monkeypatch: pytest.MonkeyPatch, unique_service_name: str
) -> None:
    import google_crc32c

    client = _gcs_client(gcs_server, monkeypatch)
    bucket = client.bucket(unique_service_name)
    bucket.versioning_enabled = True
    bucket = client.create_bucket(bucket)
    blob = bucket.blob("data/x.bin")
    blob.upload_from_string(b"old bytes")
    first_generation = blob.generation
    blob.upload_from_string(b"new bytes")
    assert blob.generation != first_generation

    # This server needs the string "true": the client sends booleans as "True".
    listed = list(client.list_blobs(bucket, versions="true"))
    assert sorted(b.generation for b in listed)[0] == first_generation
    assert len(listed) == 2

    old = bucket.blob("data/x.bin", generation=first_generation)
    assert old.download_as_bytes() == b"old bytes"

    latest = bucket.get_blob("data/x.bin")
    assert latest.md5_hash == _md5_b64(b"new bytes")
    crc = google_crc32c.Checksum(b"new bytes").digest()
    assert latest.crc32c == base64.b64encode(crc).decode()


def test_gcs_reset_drops_buckets_and_generations(
    gcs_server: GCSStandIn, monkeypatch: pytest.MonkeyPatch, unique_service_name: str
) -> None:
    client = _gcs_client(gcs_server, monkeypatch)
    bucket = client.bucket(unique_service_name)
    bucket.versioning_enabled = True
    bucket = client.create_bucket(bucket)
    bucket.blob("k").upload_from_string(b"1")
    bucket.blob("k").upload_from_string(b"2")
    gcs_server.reset()
    assert list(client.list_buckets()) == []


# ------------------------------------------------------------------------ Azure


def test_azure_upload_returns_etag_and_md5_and_honours_if_match(
    azure_server: AzureStandIn, unique_service_name: str
) -> None:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azure_server.connection_string)
    container = service.create_container(unique_service_name)
    blob = container.get_blob_client("data/x.bin")

    uploaded = blob.upload_blob(b"old bytes")
    props = blob.get_blob_properties()
    assert props.etag == uploaded["etag"]
    md5 = props.content_settings.content_md5
    assert md5 is not None and bytes(md5) == hashlib.md5(b"old bytes").digest()

    blob.upload_blob(
        b"new bytes",
        overwrite=True,
        etag=uploaded["etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    with pytest.raises(ResourceModifiedError):
        blob.upload_blob(
            b"lost update",
            overwrite=True,
            etag=uploaded["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    assert blob.download_blob().readall() == b"new bytes"
    service.close()


def test_azure_reset_drops_containers(
    azure_server: AzureStandIn, unique_service_name: str
) -> None:
    from azure.storage.blob import BlobServiceClient

    with BlobServiceClient.from_connection_string(
        azure_server.connection_string
    ) as service:
        service.create_container(unique_service_name)
        azure_server.reset()
        assert list(service.list_containers()) == []


# ------------------------------------------------------------------------ nginx


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def _serve_file(server: NginxStandIn, name: str, data: bytes) -> None:
    path = server.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)


def test_nginx_etag_on_one_port_only(http_server: NginxStandIn) -> None:
    _serve_file(http_server, "dir/file.bin", b"0123456789")

    status, headers, body = _get(f"{http_server.etag_url}/dir/file.bin")
    assert (status, body) == (200, b"0123456789")
    assert headers["ETag"]

    status, headers, body = _get(f"{http_server.no_etag_url}/dir/file.bin")
    assert (status, body) == (200, b"0123456789")
    assert headers["ETag"] is None
    assert headers["Last-Modified"]


@pytest.mark.parametrize("etag", [True, False])
def test_nginx_range_request_returns_206(http_server: NginxStandIn, etag: bool) -> None:
    _serve_file(http_server, "range.bin", b"0123456789")
    url = http_server.url("range.bin", etag=etag)

    status, headers, body = _get(url, {"Range": "bytes=2-5"})

    assert (status, body) == (206, b"2345")
    assert headers["Content-Range"] == "bytes 2-5/10"


# --------------------------------------------------------------------- Postgres


def test_postgres_select_one(postgres_server: PostgresStandIn) -> None:
    import psycopg

    with psycopg.connect(postgres_server.database_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_postgres_create_database_and_reset(postgres_server: PostgresStandIn) -> None:
    import psycopg

    url = postgres_server.create_database()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE t (x int)")
    postgres_server.reset()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url).close()


# ----------------------------------------------------------------- failure modes


def test_missing_program_raises_not_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(standins, "SERVICES_DIR", tmp_path / "nowhere")
    with pytest.raises(ServiceNotInstalledError, match=r"install-services\.sh"):
        AzureStandIn(tmp_path).start()

    monkeypatch.setenv("DOCKET_PG_BIN", os.fspath(tmp_path / "no-bin"))
    with pytest.raises(ServiceNotInstalledError, match=r"install-services\.sh"):
        PostgresStandIn(tmp_path).start()


class _NeverReady(GCSStandIn):
    def _ready(self) -> bool:
        return False


def test_start_timeout_names_service_log_and_install_script(tmp_path: Path) -> None:
    stand_in = _NeverReady(tmp_path, start_timeout=0.3)

    with pytest.raises(ServiceStartError) as caught:
        stand_in.start()

    message = str(caught.value)
    assert "gcs" in message
    assert str(stand_in.log_path) in message
    assert "install-services.sh" in message
    assert not stand_in.running
