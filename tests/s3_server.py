"""A real S3 API on 127.0.0.1 for tests: moto's server mode, on a free port, with one bucket."""

from collections.abc import Iterator
from contextlib import contextmanager

from tests.service.servers import free_port

DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """Yields the endpoint URL; the caller sets DUMMY_AWS in the environment first."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        boto3.client("s3", endpoint_url=endpoint, region_name=DUMMY_AWS["AWS_DEFAULT_REGION"]).create_bucket(
            Bucket=bucket
        )
        yield endpoint
    finally:
        server.stop()
