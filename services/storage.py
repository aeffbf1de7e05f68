"""Where files' bytes live (photos, and the files background jobs make): a folder (``UPLOAD_FOLDER``, under
instance/ by default) or, when ``UPLOAD_S3_BUCKET`` is set, an S3-compatible bucket (``UPLOAD_S3_ENDPOINT`` for
MinIO, OSS, COS ...; credentials from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``). Both take random keys that
their tables name; neither knows who may see what (services/uploads.py and services/background.py do)."""

import os
import shutil
from pathlib import Path

from flask import current_app

CHUNK = 256 * 1024


class LocalStorage:
    def __init__(self, folder):
        self.folder = Path(folder)

    def _path(self, key):
        # Keys are made by services/uploads.py (hex and an extension); never a path from outside.
        return self.folder / key[:2] / key

    def put(self, key, data, content_type):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    def put_file(self, key, path, content_type):
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".part")
        shutil.copyfile(path, temporary)
        os.replace(temporary, target)

    def get(self, key):
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def chunks(self, key, size=CHUNK):
        """The file in chunks, or None when it is gone."""
        path = self._path(key)
        if not path.exists():
            return None

        def read():
            with open(path, "rb") as handle:
                while chunk := handle.read(size):
                    yield chunk

        return read()

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)


class S3Storage:
    def __init__(self, bucket, endpoint, region, access_key, secret_key):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3},
                          s3={"addressing_style": "path"}))

    def put(self, key, data, content_type):
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_file(self, key, path, content_type):
        # Multipart for big files: a street's certificates are hundreds of megabytes.
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})

    def get(self, key):
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def chunks(self, key, size=CHUNK):
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return body.iter_chunks(size)

    def delete(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=key)


def storage():
    """The storage the configuration names."""
    config = current_app.config
    if config.get("UPLOAD_S3_BUCKET"):
        return S3Storage(config["UPLOAD_S3_BUCKET"], config.get("UPLOAD_S3_ENDPOINT"), config.get("UPLOAD_S3_REGION"),
                         config.get("AWS_ACCESS_KEY_ID"), config.get("AWS_SECRET_ACCESS_KEY"))
    return LocalStorage(config["UPLOAD_FOLDER"])
