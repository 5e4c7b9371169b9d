"""The one on-disk cache: a small SQLite key-value store, one table per kind of entry.

`KVStore` keeps `key -> value` rows of one namespace (a table) of a SQLite file. Every write commits
in WAL mode, so what was stored survives the process being killed (`kill -9`) at any moment; the
same file may hold several namespaces and be opened again, sequentially or from another process.
A store is safe to share between threads. `path=None` keeps the rows in memory only.

The embedding cache (`encoding.EmbeddingCache`) and the LLM response cache
(`llm.client.ResponseCache`) are built on it; both live under `default_cache_dir()` by default.

`ScratchDir` is the other kind of on-disk working state: a temporary folder (the chunk index's Arrow
files, an output folder's staging area) that its process locks for as long as it lives, so that the
next run can tell the folders a killed build left behind (`remove_stale_scratch`) from live ones.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Key = str | bytes
# Keys per SELECT ... IN (...): stays under SQLite's bound-parameter limit.
_IN_BATCH = 500
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLUMN_TYPES = ("TEXT", "BLOB", "REAL", "INTEGER", "")


def default_cache_dir() -> Path:
    """Where caches live by default: `$RAFT_DATASET_CACHE`, else `$XDG_CACHE_HOME/raft_dataset`,
    else `~/.cache/raft_dataset` (an empty or, for XDG, relative variable counts as unset)."""
    own = os.environ.get("RAFT_DATASET_CACHE")
    if own:
        return Path(own).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec: relative values are invalid and ignored
        return Path(xdg) / "raft_dataset"
    return Path.home() / ".cache" / "raft_dataset"


@dataclass(frozen=True)
class Namespace:
    """The table holding one kind of entry, and its columns.

    Attributes:
        table: Table name (an SQL identifier); different namespaces of one file never collide.
        key_type: SQL type of the key column ("TEXT" or "BLOB").
        value_column: Name of the value column.
        value_type: SQL type of the value column.
        extra_columns: (name, SQL type) of columns written alongside the value by `put(..., extra=...)`
            and never read back by the store (e.g. the request behind a response, a timestamp).
        without_rowid: Create the table WITHOUT ROWID (compact for small rows with blob keys).
    """

    table: str
    key_type: str = "BLOB"
    value_column: str = "value"
    value_type: str = "BLOB"
    extra_columns: tuple[tuple[str, str], ...] = ()
    without_rowid: bool = False

    def __post_init__(self) -> None:
        names = [self.table, "key", self.value_column, *(name for name, _ in self.extra_columns)]
        for name in names:
            if not _IDENTIFIER_RE.match(name):
                raise ValueError(f"cache namespace: {name!r} is not a valid table or column name")
        if len(set(names[1:])) != len(names) - 1:
            raise ValueError(f"cache namespace {self.table}: duplicate column names")
        for sql_type in (self.key_type, self.value_type, *(t for _, t in self.extra_columns)):
            if sql_type.upper() not in _COLUMN_TYPES:
                raise ValueError(f"cache namespace {self.table}: unknown column type {sql_type!r}")

    def create_sql(self) -> str:
        columns = [f"key {self.key_type} PRIMARY KEY", f"{self.value_column} {self.value_type} NOT NULL"]
        columns += [f"{name} {sql_type} NOT NULL" for name, sql_type in self.extra_columns]
        suffix = " WITHOUT ROWID" if self.without_rowid else ""
        return f"CREATE TABLE IF NOT EXISTS {self.table} ({', '.join(columns)}){suffix}"


# How long a cache waits for another process's write to finish before it gives up.
_BUSY_SECONDS = 60


def _is_busy(err: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(err, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(err) or "busy" in str(err)


class KVStore:
    """`key -> value` rows of one namespace of a SQLite file, each write committed (WAL journal).

    Args:
        path: The SQLite file (its folder is created); None keeps the rows in memory only.
        namespace: A table name, or a `Namespace` describing the table's columns.
        what: What the file is, for the error raised when it is not a usable SQLite database.

    Values are returned as stored (str or bytes). `put` replaces an existing row of the same key.
    """

    def __init__(self, path: str | Path | None, namespace: str | Namespace, *, what: str = "cache") -> None:
        self.namespace = namespace if isinstance(namespace, Namespace) else Namespace(namespace)
        self.path = None if path is None else Path(path).expanduser()
        ns = self.namespace
        self._columns = ("key", ns.value_column, *(name for name, _ in ns.extra_columns))
        self._get_sql = f"SELECT {ns.value_column} FROM {ns.table} WHERE key = ?"
        self._put_sql = (f"INSERT OR REPLACE INTO {ns.table} ({', '.join(self._columns)}) "
                         f"VALUES ({', '.join('?' * len(self._columns))})")
        # Shared by the caller's thread and worker threads (e.g. the LLM client's event loop).
        self._lock = threading.Lock()
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            database = ":memory:" if self.path is None else str(self.path)
            self._db = sqlite3.connect(database, timeout=_BUSY_SECONDS, check_same_thread=False)
            try:
                self._set_up()
            except BaseException:
                self._db.close()
                raise
        except sqlite3.DatabaseError as err:
            raise ValueError(f"{self.path}: not a usable {what}: {err}") from err

    def _set_up(self) -> None:
        """WAL journal and the namespace's table. Two builds opening one new file at once can get
        "database is locked" at once here (SQLite skips its busy wait where waiting could deadlock, as
        when both change the journal mode): retried until `_BUSY_SECONDS` have passed."""
        deadline = time.monotonic() + _BUSY_SECONDS
        delay = 0.01
        while True:
            try:
                if self.path is not None:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")  # in WAL: durable across process crashes
                self._db.execute(self.namespace.create_sql())
                self._db.commit()
                return
            except sqlite3.OperationalError as err:
                if not _is_busy(err) or time.monotonic() + delay > deadline:
                    raise
                self._db.rollback()
            time.sleep(delay)
            delay = min(2 * delay, 0.5)

    def get(self, key: Key) -> Any | None:
        """The value stored under `key`, or None."""
        with self._lock:
            row = self._db.execute(self._get_sql, (key,)).fetchone()
        return None if row is None else row[0]

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """Values of the stored keys among `keys` (missing keys are absent from the result)."""
        unique = list(dict.fromkeys(keys))
        found: dict[Key, Any] = {}
        ns = self.namespace
        with self._lock:
            for start in range(0, len(unique), _IN_BATCH):
                part = unique[start:start + _IN_BATCH]
                query = (f"SELECT key, {ns.value_column} FROM {ns.table} "
                         f"WHERE key IN ({','.join('?' * len(part))})")
                found.update(self._db.execute(query, part))
        return found

    def put(self, key: Key, value: Any, extra: Mapping[str, Any] | None = None) -> None:
        """Store `value` (and the namespace's extra columns, by name) under `key`, and commit."""
        self.put_many([(key, value)], [extra] if extra is not None else None)

    def put_many(self, items: Iterable[tuple[Key, Any]], extras: Sequence[Mapping[str, Any]] | None = None) -> None:
        """Store every (key, value) pair, with `extras[i]` for the i-th pair's extra columns; one commit."""
        items = list(items)
        if extras is not None and len(extras) != len(items):
            raise ValueError(f"put_many: {len(items)} items but {len(extras)} extras")
        extra_names = self._columns[2:]
        if extra_names and extras is None:
            raise ValueError(f"{self.namespace.table}: put needs its extra columns {', '.join(extra_names)}")
        rows = [(key, value, *(extras[i][name] for name in extra_names)) if extra_names else (key, value)
                for i, (key, value) in enumerate(items)]
        with self._lock, self._db:  # the connection as a context manager: commit, or roll back on error
            self._db.executemany(self._put_sql, rows)

    def __len__(self) -> int:
        """Rows in this namespace."""
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {self.namespace.table}").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> KVStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- scratch folders ---------------------------------------------------------------------------

try:  # POSIX advisory locks: released by the kernel when the process dies, even by `kill -9`
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to the owner's pid
    fcntl = None

# Written into a scratch folder once its owner holds the lock; a folder without it is never swept
# (it may be one being created this very moment).
_OWNER_FILE = ".owner"


def _open_locked(path: Path, *, blocking: bool) -> int | None:
    """An fd on `path` holding an exclusive lock, or None when another live process holds it."""
    fd = os.open(path, os.O_RDONLY)
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def lock_dir(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on a folder for the block (waits for other holders; no lock file made)."""
    fd = _open_locked(Path(path), blocking=True)
    try:
        yield
    finally:
        os.close(fd)


def _remove_scratch(path: Path, fd: int | None) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if fd is not None:
        os.close(fd)


class ScratchDir:
    """A temporary folder `parent/prefix*` owned and locked by this process until `cleanup()`.

    Removed by `cleanup()`, when garbage-collected or at interpreter exit; after a crash or `kill -9`
    the lock is gone with the process and `remove_stale_scratch` of the next run removes the folder.
    """

    def __init__(self, parent: str | Path, prefix: str) -> None:
        parent = Path(parent)
        parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self._fd = _open_locked(self.path, blocking=False)
        (self.path / _OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        self._finalizer = weakref.finalize(self, _remove_scratch, self.path, self._fd)

    def cleanup(self) -> None:
        """Delete the folder and release its lock (idempotent)."""
        self._finalizer()

    def abandon(self) -> None:
        """Release the lock but keep the folder: from now on it is stale, for the next run to handle."""
        if self._finalizer.detach() is not None and self._fd is not None:
            os.close(self._fd)

    def __enter__(self) -> ScratchDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _owner_gone(path: Path) -> bool:
    if not (path / _OWNER_FILE).is_file():
        return False
    if fcntl is None:  # pragma: no cover
        try:
            os.kill(int((path / _OWNER_FILE).read_text(encoding="utf-8")), 0)
        except (ValueError, ProcessLookupError):
            return True
        except OSError:
            return False
        return False
    try:
        fd = _open_locked(path, blocking=False)
    except OSError:  # vanished meanwhile, or not ours to open
        return False
    if fd is None:
        return False
    os.close(fd)  # the owner is dead: nobody else takes a lock on a scratch folder it did not create
    return True


def stale_scratch(parent: str | Path, prefix: str) -> list[Path]:
    """Scratch folders `parent/prefix*` whose owning process is gone (sorted)."""
    parent = Path(parent)
    try:
        candidates = sorted(p for p in parent.iterdir() if p.name.startswith(prefix))
    except OSError:
        return []
    return [p for p in candidates if p.is_dir() and not p.is_symlink() and _owner_gone(p)]


def remove_stale_scratch(parent: str | Path, prefix: str) -> list[Path]:
    """Delete the scratch folders of dead processes under `parent`; returns those removed."""
    removed = stale_scratch(parent, prefix)
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
