"""
S3 listings of versioned buckets: no common prefix made only of deleted objects.

What moto gets wrong: moto 5.2.1's `S3Backend.list_objects` (which `list_objects_v2` calls) drops
delete markers from the objects it returns but not from the common prefixes. In a versioned bucket
(every lake zone is one) a folder whose objects were all deleted keeps appearing in delimiter
listings. Hadoop file systems list folders that way, so a Spark job that renames its task output
(copy, then delete) later lists a task folder that has nothing in it, and the run fails with
`java.io.FileNotFoundException: s3://…/_temporary/0/_temporary/attempt_…/dt=…` from the emulator's
`s3://` file system. On AWS a prefix appears in `CommonPrefixes` only while a current object has it.

What this does: `list_objects` is moto's own code with one change: keys whose current version is a
delete marker are skipped before keys are split into objects and prefixes, so prefixes follow live
objects only, as on AWS. Pagination, markers and max keys are unchanged.

Written for moto 5.2.1: `register` refuses another version (it replaces `list_objects` with a copy of
that version's code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import require_moto

if TYPE_CHECKING:
    from moto.s3.models import FakeBucket, FakeKey


def register() -> None:
    require_moto("s3_listing", "5.2.1")
    from moto.s3.exceptions import MethodNotAllowed
    from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket, S3Backend

    def list_objects(
        self: S3Backend,
        bucket: FakeBucket,
        prefix: str | None,
        delimiter: str | None,
        marker: str | None,
        max_keys: int | None,
    ) -> tuple[list[FakeKey], list[str], bool, str | None]:
        # moto 5.2.1's own list_objects, with deleted keys skipped before prefixes are formed.
        if isinstance(bucket, FakeTableStorageBucket):
            raise MethodNotAllowed()
        key_results = set()
        folder_results = set()
        for key_name, key in list(bucket.keys.items()):
            if isinstance(key, FakeDeleteMarker):
                continue
            if prefix and not key_name.startswith(prefix):
                continue
            rest = key_name[len(prefix) :] if prefix else key_name
            if delimiter and delimiter in rest:
                folder_results.add(f"{prefix or ''}{rest.split(delimiter)[0]}{delimiter}")
            else:
                key_results.add(key)
        key_results = sorted(key_results, key=lambda key: key.name)
        folder_results = sorted(folder_results)
        if marker:
            limit = self._pagination_tokens.get(marker) or marker
            key_results = self._get_results_from_token(key_results, limit)
        if max_keys is not None:
            key_results, is_truncated, next_marker = self._truncate_result(key_results, max_keys)
        else:
            is_truncated = False
            next_marker = None
        return key_results, folder_results, is_truncated, next_marker

    S3Backend.list_objects = list_objects
