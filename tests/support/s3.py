"""A real S3-compatible server on 127.0.0.1 for tests: moto's standalone server.

    with S3Server() as s3:
        s3.environ  # AWS_ENDPOINT_URL and test credentials, for os.environ
        s3.client().create_bucket(Bucket="articles")

Without ``moto[server]`` the tests that need it skip with the reason, unless
``WATCHER_REQUIRE_SERVERS=1`` is set (as ``.ci/run`` does): then they fail.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from tests.support.local import free_port, unavailable


def require_moto_server() -> None:
    try:
        import boto3  # noqa: F401
        from moto.server import ThreadedMotoServer  # noqa: F401
    except ImportError as exc:
        reason = f"moto's S3 server is not installed (pip install 'moto[server]'): {exc}"
        unavailable(reason)


class S3Server:
    def __init__(self) -> None:
        require_moto_server()
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port,
                                          verbose=False)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.environ = {
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "test-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_DEFAULT_REGION": "us-east-1"}

    def __enter__(self) -> S3Server:
        self._server.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.stop()

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="test-key", aws_secret_access_key="test-secret")

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        client = self.client()
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", ())
        return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                for item in listed}
