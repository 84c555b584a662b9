"""The s3:// places: a fresh bucket on the moto stand-in, versioned or not."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.standins import S3StandIn


def s3_client(server: S3StandIn) -> Any:
    """A plain boto3 client for setting up buckets and objects on the stand-in."""
    env = server.env()
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


class S3Place:
    label = "s3"
    versioned = False
    listable = True
    has_folder_markers = True

    def __init__(self, server: S3StandIn, bucket: str, *, versioned: bool) -> None:
        self.server = server
        self.bucket = bucket
        self.client = s3_client(server)
        self.client.create_bucket(Bucket=bucket)
        if versioned:
            self.label = "s3-versioned"
            self.versioned = True
            self.client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def put_folder_marker(self, key: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=b"")

    def versions(self, key: str) -> list[str]:
        listing = self.client.list_object_versions(Bucket=self.bucket, Prefix=key)
        mine = [v for v in listing.get("Versions", []) if v["Key"] == key]
        return [v["VersionId"] for v in reversed(mine)]  # listed newest first

    def pinned_uri(self, key: str, version: str) -> str:
        return f"{self.uri(key)}?versionId={version}"


def _place(
    server: S3StandIn, bucket: str, monkeypatch: pytest.MonkeyPatch, versioned: bool
) -> S3Place:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return S3Place(server, bucket, versioned=versioned)


@pytest.fixture
def place_s3(
    s3_server: S3StandIn, unique_service_name: str, monkeypatch: pytest.MonkeyPatch
) -> S3Place:
    return _place(s3_server, unique_service_name, monkeypatch, versioned=False)


@pytest.fixture
def place_s3_versioned(
    s3_server: S3StandIn, unique_service_name: str, monkeypatch: pytest.MonkeyPatch
) -> S3Place:
    return _place(s3_server, unique_service_name, monkeypatch, versioned=True)
