"""File operations through Hadoop's FileSystem API, so one code path serves `s3://` in Glue and
local paths in tests, plus the commit step that gives outputs deterministic names.

Spark names output files `part-<task>-<random uuid>...`, so two runs over the same input would
leave different names. Jobs therefore write to a staging directory and `commit_partitions` moves
each partition's files into place as `part-00000<ext>`, `part-00001<ext>`, ... after deleting
whatever else that partition held: a dynamic partition overwrite with stable names.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from pyspark.sql import SparkSession

from .manifest import hidden

if TYPE_CHECKING:
    from py4j.java_gateway import JavaObject


def join(base: str, *parts: str) -> str:
    """Joins URI segments with single slashes ("s3://b/p/" + "dt=1/" → "s3://b/p/dt=1/")."""
    out = base
    for part in parts:
        out = out.rstrip("/") + "/" + part.lstrip("/")
    return out


@dataclass(frozen=True)
class FileInfo:
    #: Qualified path as Hadoop prints it ("s3://b/k", "file:/tmp/x").
    path: str
    #: The same as a URI, as Spark's input_file_name() gives it (escaped: "file:///tmp/a%20b").
    uri: str
    size: int
    is_file: bool


@dataclass(frozen=True)
class CommittedPartition:
    #: Hive path relative to the output root, with a trailing slash: "dt=2024-05-01/region=eu/".
    path: str
    files: tuple[str, ...]


class Storage:
    def __init__(self, spark: SparkSession):
        self._jvm = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> JavaObject:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def _fs(self, path: JavaObject) -> JavaObject:
        return path.getFileSystem(self._conf)

    def exists(self, uri: str) -> bool:
        p = self._path(uri)
        return bool(self._fs(p).exists(p))

    def delete(self, uri: str, recursive: bool = True) -> None:
        p = self._path(uri)
        fs = self._fs(p)
        if fs.exists(p):
            fs.delete(p, recursive)

    def mkdirs(self, uri: str) -> None:
        p = self._path(uri)
        self._fs(p).mkdirs(p)

    def list_files(self, uri: str) -> list[str]:
        """Every file under `uri`, as paths relative to it, sorted. Empty if `uri` does not exist."""
        root = self._path(uri)
        fs = self._fs(root)
        if not fs.exists(root):
            return []
        prefix = fs.makeQualified(root).toString().rstrip("/") + "/"
        out = []
        it = fs.listFiles(root, True)
        while it.hasNext():
            full = it.next().getPath().toString()
            out.append(full[len(prefix) :] if full.startswith(prefix) else full)
        return sorted(out)

    def stat(self, uri: str) -> "Optional[FileInfo]":
        """The file at `uri` (qualified), or None when nothing is there."""
        p = self._path(uri)
        fs = self._fs(p)
        if not fs.exists(p):
            return None
        status = fs.getFileStatus(p)
        return FileInfo(
            status.getPath().toString(),
            status.getPath().toUri().toString(),
            int(status.getLen()),
            bool(status.isFile()),
        )

    def walk(self, uri: str) -> "list[tuple[str, FileInfo]]":
        """Every file under `uri` as (path relative to it, file), sorted, skipping what Spark's own
        listing skips (a segment named `_*` without `=`, `.*`); empty if `uri` does not exist."""
        root = self._path(uri)
        fs = self._fs(root)
        if not fs.exists(root):
            return []
        prefix = fs.makeQualified(root).toString().rstrip("/") + "/"
        out = []
        it = fs.listFiles(root, True)
        while it.hasNext():
            status = it.next()
            path = status.getPath()
            full = path.toString()
            rel = full[len(prefix) :] if full.startswith(prefix) else path.getName()
            if any(hidden(seg) for seg in rel.split("/")):
                continue
            out.append((rel, FileInfo(full, path.toUri().toString(), int(status.getLen()), True)))
        return sorted(out)

    def list_dir_files(self, uri: str) -> list[str]:
        """Names of the files directly in `uri` (not in subdirectories)."""
        p = self._path(uri)
        fs = self._fs(p)
        if not fs.exists(p):
            return []
        return sorted(s.getPath().getName() for s in fs.listStatus(p) if s.isFile())

    def move(self, src: str, dst: str) -> None:
        s, d = self._path(src), self._path(dst)
        src_fs, fs = self._fs(s), self._fs(d)
        if fs.exists(d):
            fs.delete(d, False)
        fs.mkdirs(d.getParent())
        if src_fs.getUri().equals(fs.getUri()):
            moved = fs.rename(s, d)
        else:
            # A rename cannot cross buckets (S3 has no such call, and Hadoop refuses it as "Wrong FS"):
            # staged quarantine rows live in the output's bucket and end in the quarantine bucket.
            moved = self._jvm.org.apache.hadoop.fs.FileUtil.copy(src_fs, s, fs, d, True, self._conf)
        if not moved:
            raise IOError(f"could not move {src} to {dst}")

    def write_text(self, uri: str, text: str) -> None:
        p = self._path(uri)
        fs = self._fs(p)
        stream = fs.create(p, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def read_text(self, uri: str) -> str:
        p = self._path(uri)
        fs = self._fs(p)
        stream = fs.open(p)
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            lines = []
            line = reader.readLine()
            while line is not None:
                lines.append(line)
                line = reader.readLine()
            return "\n".join(lines)
        finally:
            stream.close()


def commit_partitions(
    storage: Storage,
    staging: str,
    target: str,
    ext: str,
    replace: tuple[str, ...] = (),
    name_prefix: str = "part-",
    staged_ext: str | None = None,
) -> list[CommittedPartition]:
    """Moves Spark's output under `staging` into `target`, one partition directory at a time.

    Each partition directory present in staging replaces the same directory in `target`: its files
    are renamed `<name_prefix>00000<ext>`, ... in Spark's task order, and files of earlier runs
    starting with `name_prefix` that are no longer produced are deleted (other files are not ours
    and are left alone). `staged_ext` is the extension Spark gave the files (default `ext`).
    Partitions absent from staging are left untouched, except the relative directories listed in
    `replace` ("" is `target` itself), whose stale files are removed even when this run produced
    none. Staging is removed afterwards.
    """
    staged: dict[str, list[str]] = {}
    for rel in storage.list_files(staging):
        name = posixpath.basename(rel)
        if name.startswith("part-") and name.endswith(staged_ext or ext):
            staged.setdefault(posixpath.dirname(rel), []).append(rel)
    for directory in replace:
        staged.setdefault(directory, [])
    committed = []
    for directory in sorted(staged):
        dest_dir = join(target, directory) if directory else target
        new_names = [f"{name_prefix}{i:05d}{ext}" for i in range(len(staged[directory]))]
        for old in storage.list_dir_files(dest_dir):
            if old.startswith(name_prefix) and old not in new_names:
                storage.delete(join(dest_dir, old), recursive=False)
        for rel, name in zip(sorted(staged[directory]), new_names):
            storage.move(join(staging, rel), join(dest_dir, name))
        if new_names:
            committed.append(CommittedPartition(path=f"{directory}/" if directory else "", files=tuple(new_names)))
    storage.delete(staging)
    return committed
