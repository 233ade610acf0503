"""Where trial artifacts (config, recipe, weights) go: a folder, or an S3 bucket every machine reaches.

`--artifacts` takes a folder (default: beside the SQLite file, else studies/artifacts) or
`s3://BUCKET/PREFIX`, served by Optuna's `Boto3ArtifactStore` with the artifact ids under PREFIX/.
boto3 finds the endpoint and the keys as it always does: AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3)
for an S3-compatible server such as MinIO, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION,
or ~/.aws. The bucket must exist: a missing one is one line before anything is written.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from ..errors import StorageError

S3 = "s3://"


def location(storage_url: str, explicit: str | None = None) -> str:
    """The artifact location of a study: an s3:// URL as given, else a folder path."""
    if explicit and explicit.startswith(S3):
        return explicit
    from ._storage import artifact_dir

    return str(artifact_dir(storage_url, explicit))


def is_remote(where: str | None) -> bool:
    return bool(where) and where.startswith(S3)


def bucket_and_prefix(url: str) -> tuple[str, str]:
    rest = url[len(S3) :]
    bucket, _, prefix = rest.partition("/")
    if not bucket or "/" in bucket:
        raise StorageError(f"malformed artifact URL {url!r}: expected s3://BUCKET or s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


class PrefixedStore:
    """An artifact store whose ids live under a key prefix (Boto3ArtifactStore writes at the bucket's top)."""

    def __init__(self, store, prefix: str):
        self.store, self.prefix = store, prefix

    def _key(self, artifact_id: str) -> str:
        return f"{self.prefix}/{artifact_id}" if self.prefix else artifact_id

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self.store.open_reader(self._key(artifact_id))

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.store.write(self._key(artifact_id), content_body)

    def remove(self, artifact_id: str) -> None:
        self.store.remove(self._key(artifact_id))


def _s3_client():
    try:
        import boto3
    except ImportError:
        raise StorageError(
            "s3:// artifacts need the Python module 'boto3': run `pip install 'mnist-search[s3]'`"
        ) from None
    from botocore.config import Config

    # A few quick retries, then one line: an unreachable endpoint must not hang a worker for minutes.
    return boto3.client("s3", config=Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3}))


def check(where: str) -> None:
    """For s3://: the bucket exists and these keys may use it; StorageError (one line) otherwise."""
    if not is_remote(where):
        return
    bucket, _ = bucket_and_prefix(where)
    client = _s3_client()
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    endpoint = client.meta.endpoint_url
    try:
        client.head_bucket(Bucket=bucket)
    except NoCredentialsError:
        raise StorageError(
            f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials)"
        ) from None
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise StorageError(
                f"no bucket {bucket!r} at {endpoint} (for {where}): create it first, e.g. "
                f"`aws s3 mb s3://{bucket}`, or check AWS_ENDPOINT_URL"
            ) from None
        raise StorageError(f"cannot use bucket {bucket!r} at {endpoint}: {code or exc}") from None
    except BotoCoreError as exc:
        raise StorageError(
            f"cannot reach the S3 endpoint {endpoint} for {where}: {exc}; check AWS_ENDPOINT_URL"
        ) from None


def open_store(where: str, create: bool = True):
    """An Optuna artifact store for a folder (created when `create`) or an s3:// URL (checked)."""
    if is_remote(where):
        check(where)
        from optuna.artifacts import Boto3ArtifactStore

        bucket, prefix = bucket_and_prefix(where)
        return PrefixedStore(Boto3ArtifactStore(bucket, client=_s3_client()), prefix)
    if create:
        os.makedirs(where, exist_ok=True)
    return _folder_store(where)


def _folder_store(where: str):
    """Optuna's folder store, but an artifact is written whole or not at all (a full disk leaves no
    part of it behind) and a refused write names its file."""
    from optuna.artifacts import FileSystemArtifactStore

    from mnistnet.rundir import write_atomic

    class FolderStore(FileSystemArtifactStore):
        def write(self, artifact_id: str, content_body: BinaryIO) -> None:
            write_atomic(self._get_filepath(artifact_id), content_body.read())  # trial files: KB to a few MB

    return FolderStore(where)
