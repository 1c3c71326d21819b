"""The jobs table: what was asked, how far it got, where the result is; kept in SQLite.

A server restart must lose nothing a client was promised: finished results stay downloadable
and interrupted jobs are run again (films continue from their last finished segment), so jobs
live in a database file under the data folder, not in memory. Paths are stored relative to
that folder (the folder may move); options as the JSON of their ``to_dict()``. One connection
is shared by the event loop and the workers behind a lock: every statement is short, and
SQLite's WAL journal keeps the file consistent if the process is killed mid-write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["JobRecord", "JobStore", "STATES"]

#: A job's life: queued -> running -> done | failed (a deleted job is gone, not a state).
STATES = ("queued", "running", "done", "failed")

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,             -- 'image' or 'video'
    state TEXT NOT NULL,
    name TEXT NOT NULL,             -- the upload's file name: shown and offered, never a path
    input TEXT NOT NULL,            -- relative to the data folder
    result TEXT NOT NULL,           -- relative to the data folder; exists once state is done
    options TEXT NOT NULL,          -- JSON: ImageOptions/VideoOptions.to_dict()
    created REAL NOT NULL,
    updated REAL NOT NULL,
    started REAL,                   -- when the current (or last) run began
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    unit TEXT NOT NULL DEFAULT 'frame',
    fps REAL,
    resumed INTEGER NOT NULL DEFAULT 0,   -- frames a restarted film job took over
    attempts INTEGER NOT NULL DEFAULT 0,  -- runs started (a restart makes one more)
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
"""

_COLUMNS = ("id", "kind", "state", "name", "input", "result", "options", "created", "updated",
            "started", "done", "total", "unit", "fps", "resumed", "attempts", "error")
# Columns a caller may change with JobStore.update (the others are fixed at creation).
_MUTABLE = frozenset({"state", "started", "done", "total", "unit", "fps", "resumed",
                      "attempts", "error"})


@dataclass(frozen=True)
class JobRecord:
    """One row of the jobs table (see the schema above for each column)."""

    id: str
    kind: str
    state: str
    name: str
    input: str
    result: str
    options: dict
    created: float
    updated: float
    started: float | None
    done: int
    total: int | None
    unit: str
    fps: float | None
    resumed: int
    attempts: int
    error: str | None

    @classmethod
    def from_row(cls, row: tuple) -> "JobRecord":
        values = dict(zip(_COLUMNS, row))
        values["options"] = json.loads(values["options"])
        return cls(**values)

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, when the rate and the total are known."""
        if self.state != "running" or not self.fps or not self.total:
            return None
        return max(self.total - self.done, 0) / self.fps


class JobStore:
    """The jobs table of one SQLite file; safe to use from several threads.

    Parameters
    ----------
    path : Path
        The database file (made, with its table, when missing).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        # check_same_thread=False: the lock, not the thread, guards the connection.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def add(self, *, id: str, kind: str, name: str, input: str, result: str, options: dict,
            unit: str, total: int | None = None) -> JobRecord:
        """Record a new queued job and return it."""
        now = time.time()
        self._execute(
            "INSERT INTO jobs (id, kind, state, name, input, result, options, created, updated,"
            " total, unit) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
            (id, kind, name, input, result, json.dumps(options), now, now, total, unit))
        return self.get(id)

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,))
        return JobRecord.from_row(rows[0]) if rows else None

    def list(self, limit: int = 200) -> list[JobRecord]:
        """The newest jobs first."""
        rows = self._execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs ORDER BY created DESC "
                             "LIMIT ?", (limit,))
        return [JobRecord.from_row(r) for r in rows]

    def ids(self) -> set[str]:
        return {r[0] for r in self._execute("SELECT id FROM jobs")}

    def unfinished(self) -> list[JobRecord]:
        """Jobs queued or running when the server stopped, oldest first (the order to redo)."""
        rows = self._execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE state IN "
                             "('queued', 'running') ORDER BY created")
        return [JobRecord.from_row(r) for r in rows]

    def update(self, job_id: str, **changes) -> bool:
        """Set some of a job's mutable columns; False when the job is gone (deleted).

        Raises
        ------
        ValueError
            A column that may not change, or an unknown state.
        """
        bad = set(changes) - _MUTABLE
        if bad:
            raise ValueError(f"cannot change {', '.join(sorted(bad))}")
        if "state" in changes and changes["state"] not in STATES:
            raise ValueError(f"unknown state {changes['state']!r}")
        names = ", ".join(f"{k} = ?" for k in changes)
        with self._lock:
            cursor = self._db.execute(f"UPDATE jobs SET {names}, updated = ? WHERE id = ?",
                                      (*changes.values(), time.time(), job_id))
            return cursor.rowcount > 0

    def delete(self, job_id: str) -> bool:
        """Remove a job's row; False when there was none."""
        with self._lock:
            return self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0
