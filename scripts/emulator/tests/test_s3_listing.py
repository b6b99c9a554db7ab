"""Delimiter listings of a versioned bucket show a folder only while a current object is in it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from conftest import Emulator


def _bucket(s3: BaseClient, versioned: bool) -> str:
    name = f"listing-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _listing(s3: BaseClient, bucket: str, prefix: str) -> tuple[list[str], list[str]]:
    v2 = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
    v1 = s3.list_objects(Bucket=bucket, Prefix=prefix, Delimiter="/")

    def as_lists(r: dict[str, Any]) -> tuple[list[str], list[str]]:
        return [p["Prefix"] for p in r.get("CommonPrefixes", [])], [o["Key"] for o in r.get("Contents", [])]

    assert as_lists(v1) == as_lists(v2)
    return as_lists(v2)


def test_a_folder_whose_objects_were_deleted_is_not_listed(emulator: Emulator) -> None:
    s3 = emulator.client("s3")
    bucket = _bucket(s3, versioned=True)
    for key in (
        "run/_temporary/attempt_1/dt=2024-01-01/part-0.gz",
        "run/_temporary/attempt_2/dt=2024-01-01/part-0.gz",
        "run/kept.json",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.delete_object(Bucket=bucket, Key="run/_temporary/attempt_1/dt=2024-01-01/part-0.gz")

    assert _listing(s3, bucket, "run/") == (["run/_temporary/"], ["run/kept.json"])
    assert _listing(s3, bucket, "run/_temporary/") == (["run/_temporary/attempt_2/"], [])
    assert _listing(s3, bucket, "run/_temporary/attempt_1/") == ([], [])
    # The deleted object's versions are still there: only the listing of current objects changed.
    versions = s3.list_object_versions(Bucket=bucket, Prefix="run/_temporary/attempt_1/")
    assert len(versions.get("Versions", [])) == 1 and len(versions.get("DeleteMarkers", [])) == 1


def test_an_unversioned_bucket_lists_as_before(emulator: Emulator) -> None:
    s3 = emulator.client("s3")
    bucket = _bucket(s3, versioned=False)
    for key in ("a/b/c.txt", "a/d.txt", "e.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.delete_object(Bucket=bucket, Key="a/b/c.txt")
    assert _listing(s3, bucket, "a/") == ([], ["a/d.txt"])
    assert _listing(s3, bucket, "") == (["a/"], ["e.txt"])
