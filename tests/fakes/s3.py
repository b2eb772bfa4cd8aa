"""A fake S3-compatible server on 127.0.0.1 (moto's server mode: https://docs.getmoto.org/en/latest/docs/server_mode.html),
for the bucket storage of production (config.settings.media_storage, django-storages):

    def test_it_stores(fake_s3, settings):
        settings.STORAGES = {**settings.STORAGES, "default": fake_s3.storage()}
        ...
        assert fake_s3.keys() == [...]

Each test gets an empty bucket; objects are read back with boto3 as an operator would.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

KEY_ID, SECRET, REGION = "fake-key-id", "fake-secret", "us-east-1"


class FakeS3:
    def __init__(self, url: str) -> None:
        self.url = url
        self.bucket = ""
        self.client = boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name=REGION,
        )

    def new_bucket(self) -> None:
        self.bucket = f"arquivos-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=self.bucket)

    def storage(self) -> dict:
        """STORAGES["default"] as production builds it from the MEDIA_S3_* variables."""
        from config.settings import media_storage

        return media_storage(
            bucket=self.bucket, endpoint_url=self.url, region=REGION, key_id=KEY_ID, secret=SECRET
        )

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture(scope="session")
def _fake_s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def fake_s3(_fake_s3_server) -> FakeS3:
    fake = FakeS3(_fake_s3_server)
    fake.new_bucket()
    return fake
