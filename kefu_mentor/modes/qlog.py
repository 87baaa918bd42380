"""The local question log: what learners asked, redacted, for the instructor's gap view.

SQLite in WAL mode (a crash loses at most the entry being written), bounded retention.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..schema import Answer
from .redact import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at REAL NOT NULL,
    question TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    confidence REAL NOT NULL,
    toc_id TEXT,
    breadcrumb TEXT
);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions(asked_at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    given_at REAL NOT NULL,
    liked INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    reason TEXT NOT NULL,
    toc_id TEXT,
    breadcrumb TEXT
);
"""


@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    asked_at: float
    question: str
    abstained: bool
    confidence: float
    toc_id: str | None
    breadcrumb: str | None


@dataclass(frozen=True)
class Feedback:
    """A learner's 👍 or 👎 on one answer, redacted like the questions."""

    id: int
    given_at: float
    liked: bool
    question: str
    answer: str  # the start of the answer as shown
    reason: str
    toc_id: str | None
    breadcrumb: str | None


class QuestionLog:
    """Append-only log of redacted questions with where they landed.

    Args:
        path: the SQLite file (its folder is created).
        max_rows: keep at most this many entries (oldest dropped first).
        max_age_days: drop entries older than this.
    """

    def __init__(self, path: Path, max_rows: int = 20_000, max_age_days: float = 180):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        self.max_age_days = max_age_days
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def record(self, answer: Answer) -> None:
        top = answer.citations[0] if answer.citations else None
        with self._lock:
            self._db.execute(
                "INSERT INTO questions (asked_at, question, abstained, confidence, toc_id, breadcrumb) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    redact(answer.question)[:2000],
                    int(answer.abstained),
                    float(answer.confidence),
                    top.toc_id if top else None,
                    top.title if top else None,
                ),
            )
            self._prune()

    def record_feedback(
        self, liked: bool, question: str, answer: str, reason: str = "", toc_id: str | None = None, breadcrumb: str | None = None
    ) -> None:
        """Store a 👍/👎 (question, answer and reason redacted before writing)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback (given_at, liked, question, answer, reason, toc_id, breadcrumb) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    int(bool(liked)),
                    redact(question)[:2000],
                    redact(answer)[:500],
                    redact(reason or "")[:500],
                    toc_id,
                    breadcrumb,
                ),
            )
            self._prune()

    def feedback(self) -> list[Feedback]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, given_at, liked, question, answer, reason, toc_id, breadcrumb FROM feedback ORDER BY id"
            ).fetchall()
        return [Feedback(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7]) for r in rows]

    def _prune(self) -> None:
        cutoff = time.time() - self.max_age_days * 86400
        self._db.execute("DELETE FROM feedback WHERE given_at < ?", (cutoff,))
        self._db.execute(
            "DELETE FROM feedback WHERE id <= (SELECT id FROM feedback ORDER BY id DESC LIMIT 1 OFFSET ?)", (self.max_rows,)
        )
        self._db.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,))
        self._db.execute(
            "DELETE FROM questions WHERE id <= (SELECT id FROM questions ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (self.max_rows,),
        )

    def entries(self) -> list[LoggedQuestion]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, asked_at, question, abstained, confidence, toc_id, breadcrumb FROM questions ORDER BY id"
            ).fetchall()
        return [LoggedQuestion(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
