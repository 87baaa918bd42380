"""The question log: what learners asked and how they rated answers, redacted, for the teacher view.

One schema on two databases. Unset `database_url` → a local SQLite file in WAL mode (a crash
loses at most the entry being written); `postgresql://…` → PostgreSQL through psycopg 3 with a
connection pool, so that every replica of the app behind a load balancer writes to and reads
from the same log.

A database that is down (at start or mid-run) must never cost a learner an answer: each write
is tried once at once, and on failure kept in memory and retried in the background until it
lands. Every entry carries a uid, so a retry after a write whose acknowledgement was lost
cannot store it twice.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import MentorError
from ..pipeline.scenario import NONE, OTHER
from ..schema import Answer
from .redact import redact

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
# Columns added in version 2 (class codes, replica names, idempotent retries) and 3 (every section
# an answer cited, not only its first), on top of version 1. Version 4 adds the practice table
# (drill replies and quiz answers, for the teacher view) and each question's scenario family.
_ADDED = {
    "questions": {
        "uid": "TEXT",
        "class_code": "TEXT NOT NULL DEFAULT ''",
        "replica": "TEXT NOT NULL DEFAULT ''",
        "cited": "TEXT NOT NULL DEFAULT ''",
        "family": "TEXT NOT NULL DEFAULT ''",
    },
    "feedback": {"uid": "TEXT", "class_code": "TEXT NOT NULL DEFAULT ''", "replica": "TEXT NOT NULL DEFAULT ''"},
}
_TABLES = """
CREATE TABLE IF NOT EXISTS questions (
    id {serial},
    asked_at DOUBLE PRECISION NOT NULL,
    question TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    toc_id TEXT,
    breadcrumb TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    id {serial},
    given_at DOUBLE PRECISION NOT NULL,
    liked INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    reason TEXT NOT NULL,
    toc_id TEXT,
    breadcrumb TEXT
);
CREATE TABLE IF NOT EXISTS practice (
    id {serial},
    done_at DOUBLE PRECISION NOT NULL,
    uid TEXT,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    toc_id TEXT,
    topic TEXT NOT NULL,
    prompt TEXT NOT NULL,
    response TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    passed INTEGER NOT NULL,
    class_code TEXT NOT NULL DEFAULT '',
    replica TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions(asked_at);
CREATE UNIQUE INDEX IF NOT EXISTS questions_uid ON questions(uid);
CREATE INDEX IF NOT EXISTS questions_class ON questions(class_code);
CREATE UNIQUE INDEX IF NOT EXISTS feedback_uid ON feedback(uid);
CREATE INDEX IF NOT EXISTS feedback_class ON feedback(class_code);
CREATE UNIQUE INDEX IF NOT EXISTS practice_uid ON practice(uid);
CREATE INDEX IF NOT EXISTS practice_class ON practice(class_code)
"""
_QUESTION_COLUMNS = (
    "uid",
    "asked_at",
    "question",
    "abstained",
    "confidence",
    "toc_id",
    "breadcrumb",
    "class_code",
    "replica",
    "cited",
    "family",
)
_FEEDBACK_COLUMNS = (
    "uid",
    "given_at",
    "liked",
    "question",
    "answer",
    "reason",
    "toc_id",
    "breadcrumb",
    "class_code",
    "replica",
)
_PRACTICE_COLUMNS = (
    "uid",
    "done_at",
    "kind",
    "item_id",
    "toc_id",
    "topic",
    "prompt",
    "response",
    "score",
    "passed",
    "class_code",
    "replica",
)
PRACTICE_KINDS = {"drill": "情景演练", "quiz": "练习测验"}
# Writes kept in memory while the database is away; beyond this the oldest are dropped (and said).
MAX_PENDING = 10_000
MAX_CLASS_CHARS = 32


class LogUnavailable(MentorError):
    """The question log cannot be read or written now; the message says what to check."""


class LogConfigError(MentorError):
    """The database address is not one the log can use."""


@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    asked_at: float
    question: str
    abstained: bool
    confidence: float
    toc_id: str | None
    breadcrumb: str | None
    class_code: str = ""
    replica: str = ""
    cited: tuple[str, ...] = ()  # every TOC node the answer cited, best first
    family: str = ""  # the scenario family of the template it led with, or that the recogniser read


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
    class_code: str = ""
    replica: str = ""


@dataclass(frozen=True)
class Practice:
    """One drill reply or quiz answer, redacted like the questions."""

    id: int
    done_at: float
    kind: str  # drill | quiz
    item_id: str  # the template id or the quiz question id
    toc_id: str | None
    topic: str  # the scenario family (drill) or the section the question rests on (quiz)
    prompt: str  # what the learner answered: the buyer's line or the question
    response: str
    score: float  # 0 to 1
    passed: bool
    class_code: str = ""
    replica: str = ""


def clean_class(code: str | None) -> str:
    """A class code as stored: trimmed; letters, digits, Chinese, '-' and '_' only, at most 32 characters.

    Raises `ValueError` with a Chinese message for anything else, so the page can say what to change.
    """
    code = (code or "").strip()
    if not code:
        return ""
    if len(code) > MAX_CLASS_CHARS:
        raise ValueError(f"班级代码太长（{len(code)} 个字符），最多 {MAX_CLASS_CHARS} 个。")
    bad = sorted({c for c in code if not (c.isalnum() or c in "-_")})
    if bad:
        raise ValueError(f"班级代码里有不能用的字符：{' '.join(bad)}。只能用字母、数字、汉字、- 和 _。")
    return code


def describe_url(url: str) -> str:
    """The database address without its password, for messages and the teacher view."""
    parts = urlsplit(url)
    host = parts.hostname or "本机"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _SQLite:
    name = "SQLite"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()

    def migrate(self) -> None:
        with self._lock:
            self._db.executescript(_TABLES.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT") + ";")
            for table, columns in _ADDED.items():
                have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                for column, kind in columns.items():
                    if column not in have:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            self._db.executescript(_INDEXES + ";")
            if self._db.execute("SELECT version FROM schema_version").fetchall() != [(SCHEMA_VERSION,)]:
                self._db.execute("DELETE FROM schema_version")
                self._db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    def write(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def execute(self, sql: str, params: tuple = ()) -> None:
        with self._lock:
            self._db.execute(sql, params)

    def read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Postgres:
    name = "PostgreSQL"
    # One lock id for the schema migration, so two replicas starting together do not race.
    _MIGRATION_LOCK = 7188_2024

    # A learner's answer waits for its log write: when the database is away, that wait is at most
    # `wait` seconds once (later entries go straight to the retry queue).
    def __init__(self, url: str, wait: float = 1.0, connect_timeout: int = 2):
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise LogConfigError(
                "要使用 PostgreSQL 保存提问日志，需要先安装 psycopg：pip install 'kefu-mentor[postgres]'（或不设置数据库地址，使用本机 SQLite）。"
            ) from exc
        self.url = url
        # open=False + open(wait=False): a database that is down at start must not stop the app.
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=4,
            open=False,
            timeout=wait,
            kwargs={"connect_timeout": connect_timeout, "autocommit": False},
            name="kefu-mentor-log",
        )
        self._pool.open(wait=False)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._MIGRATION_LOCK,))
            for statement in _TABLES.format(serial="BIGSERIAL PRIMARY KEY").split(";"):
                conn.execute(statement)
            for table, columns in _ADDED.items():
                for column, kind in columns.items():
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
            for statement in _INDEXES.split(";"):
                conn.execute(statement)
            if conn.execute("SELECT version FROM schema_version").fetchall() != [(SCHEMA_VERSION,)]:
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))

    def write(self, sql: str, rows: list[tuple]) -> None:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    def execute(self, sql: str, params: tuple = ()) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(self._sql(sql), params)

    def read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._pool.connection() as conn:
            rows = conn.execute(self._sql(sql), params).fetchall()
            conn.rollback()
            return rows

    def close(self) -> None:
        self._pool.close()


def _backend(target: str | Path):
    text = str(target)
    if "://" not in text:
        return _SQLite(Path(text))
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("postgresql", "postgres"):
        return _Postgres(text)
    if scheme == "sqlite":
        return _SQLite(Path(text.split("://", 1)[1]))
    raise LogConfigError(
        f"数据库地址 {describe_url(text)} 用的是不支持的类型“{scheme}”。请用 postgresql://用户:密码@主机:端口/库名，"
        "或不设置（使用本机 SQLite 文件）。"
    )


class QuestionLog:
    """Append-only log of redacted questions and feedback with where they landed.

    Args:
        target: a SQLite file path (its folder is created) or a database URL
            (`postgresql://…`, `sqlite:///path`).
        max_rows: keep at most this many entries per table (oldest dropped first).
        max_age_days: drop entries older than this.
        replica: the name this process writes under (default: host name and process id).
        retry_interval: seconds between background retries while the database is away.
        prune_every: apply retention at most this often (seconds): on every write it would cost
            two scans per question on a busy shared database.
    """

    def __init__(
        self,
        target: str | Path,
        max_rows: int = 20_000,
        max_age_days: float = 180,
        replica: str | None = None,
        retry_interval: float = 2.0,
        prune_every: float = 60.0,
    ):
        self.target = str(target)
        self.max_rows = max_rows
        self.max_age_days = max_age_days
        self.replica = replica or os.environ.get("KEFU_MENTOR_REPLICA") or f"{socket.gethostname()}:{os.getpid()}"
        self.retry_interval = retry_interval
        self.prune_every = prune_every
        self._db = _backend(target)
        self._pending: deque[tuple[str, tuple]] = deque()
        self._pending_lock = threading.Lock()
        self._dropped = 0
        self._migrated = False
        self._last_prune = float("-inf")
        self._retrying = threading.Event()
        self._closed = False
        self.problem: str | None = None  # why writes are waiting, for the teacher view
        self._last_error = ""
        self._ensure_schema()

    @classmethod
    def open(cls, database_url: str | None, data_dir: Path, **kwargs) -> QuestionLog:
        """The log for a settings' database URL: unset → `data_dir/questions.sqlite`."""
        return cls(database_url or Path(data_dir) / "questions.sqlite", **kwargs)

    @property
    def backend(self) -> str:
        return self._db.name

    @property
    def where(self) -> str:
        """Where the log lives, without any password."""
        return describe_url(self.target) if "://" in self.target else self.target

    # -- writing ---------------------------------------------------------------------------
    def record(self, answer: Answer, class_code: str = "") -> None:
        top = answer.citations[0] if answer.citations else None
        row = (
            uuid.uuid4().hex,
            time.time(),
            redact(answer.question)[:2000],
            int(answer.abstained),
            float(answer.confidence),
            top.toc_id if top else None,
            top.title if top else None,
            class_code,
            self.replica,
            " ".join(dict.fromkeys(c.toc_id for c in answer.citations)),
            _family(answer),
        )
        self._write("questions", _QUESTION_COLUMNS, row)

    def record_feedback(
        self,
        liked: bool,
        question: str,
        answer: str,
        reason: str = "",
        toc_id: str | None = None,
        breadcrumb: str | None = None,
        class_code: str = "",
    ) -> None:
        """Store a 👍/👎 (question, answer and reason redacted before writing)."""
        row = (
            uuid.uuid4().hex,
            time.time(),
            int(bool(liked)),
            redact(question)[:2000],
            redact(answer)[:500],
            redact(reason or "")[:500],
            toc_id,
            breadcrumb,
            class_code,
            self.replica,
        )
        self._write("feedback", _FEEDBACK_COLUMNS, row)

    def record_practice(
        self,
        kind: str,
        item_id: str,
        toc_id: str | None,
        topic: str,
        prompt: str,
        response: str,
        score: float,
        passed: bool,
        class_code: str = "",
    ) -> None:
        """Store a drill reply or a quiz answer (the learner's text redacted before writing)."""
        if kind not in PRACTICE_KINDS:
            raise ValueError(f"unknown practice kind {kind!r}")
        row = (
            uuid.uuid4().hex,
            time.time(),
            kind,
            item_id,
            toc_id,
            topic[:200],
            redact(prompt)[:500],
            redact(response)[:2000],
            float(score),
            int(bool(passed)),
            class_code,
            self.replica,
        )
        self._write("practice", _PRACTICE_COLUMNS, row)

    def _write(self, table: str, columns: tuple[str, ...], row: tuple) -> None:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING"
        # Entries waiting from an outage go first, so the log keeps its order.
        if not self._pending:
            try:
                self._ensure_schema()
                self._db.write(sql, [row])
                self._prune_now_and_then()
                return
            except Exception as exc:  # any database failure: keep the entry, retry later
                self._went_away(exc)
        with self._pending_lock:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self._dropped += 1
                self._say_problem()
            self._pending.append((sql, row))
        self._start_retrying()

    def _went_away(self, exc: Exception) -> None:
        self._last_error = _short(exc)
        if self.problem is None:
            log.warning("question log (%s) unavailable, keeping entries in memory: %s", self.where, exc)
        self._say_problem()

    def _say_problem(self) -> None:
        dropped = f"等待太久，最早的 {self._dropped} 条记录已经丢弃。" if self._dropped else ""
        self.problem = (
            f"提问日志数据库（{self.where}）暂时连不上：{self._last_error}。回答照常进行，新记录先保存在内存里，数据库恢复后自动补写。"
            + dropped
        )

    def _start_retrying(self) -> None:
        if self._retrying.is_set() or self._closed:
            return
        self._retrying.set()
        threading.Thread(target=self._retry_loop, name="qlog-retry", daemon=True).start()

    def _retry_loop(self) -> None:
        try:
            while not self._closed and self._pending:
                time.sleep(self.retry_interval)
                self.flush()
        finally:
            self._retrying.clear()

    def flush(self) -> bool:
        """Write what waits in memory; True when nothing is left waiting."""
        with self._pending_lock:
            batch = list(self._pending)
        if not batch:
            return True
        try:
            self._ensure_schema()
            by_sql: dict[str, list[tuple]] = {}
            for sql, row in batch:
                by_sql.setdefault(sql, []).append(row)
            for sql, rows in by_sql.items():
                self._db.write(sql, rows)
        except Exception as exc:
            self._went_away(exc)
            return False
        written = {id(item) for item in batch}
        with self._pending_lock:
            # Only what was written: while it was being written, a full queue may have dropped the
            # oldest entries, so counting `len(batch)` off the front would drop newer ones too.
            while self._pending and id(self._pending[0]) in written:
                self._pending.popleft()
            left = len(self._pending)
        if not left:
            if self.problem:
                log.info(
                    "question log (%s) is back; %d waiting entries written, %d dropped while it was away",
                    self.where,
                    len(batch),
                    self._dropped,
                )
            self.problem = None
        return not left

    @property
    def pending(self) -> int:
        """Entries waiting in memory for the database to come back."""
        return len(self._pending)

    def _ensure_schema(self) -> None:
        if self._migrated:
            return
        try:
            self._db.migrate()
        except LogConfigError:
            raise
        except Exception as exc:
            self._went_away(exc)
            return
        self._migrated = True

    def _prune_now_and_then(self) -> None:
        now = time.time()
        if now - self._last_prune < self.prune_every:
            return
        self._last_prune = now
        self.prune()

    def prune(self) -> None:
        """Apply retention (age and row count) in the database."""
        cutoff = time.time() - self.max_age_days * 86400
        for table, at in (("questions", "asked_at"), ("feedback", "given_at"), ("practice", "done_at")):
            self._db.execute(f"DELETE FROM {table} WHERE {at} < ?", (cutoff,))
            self._db.execute(
                f"DELETE FROM {table} WHERE id <= (SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (self.max_rows,),
            )

    # -- reading ---------------------------------------------------------------------------
    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            self._ensure_schema()
            if not self._migrated:
                raise ConnectionError(self._last_error)
            return self._db.read(sql, params)
        except Exception as exc:
            self._went_away(exc)
            raise LogUnavailable(
                f"提问日志数据库（{self.where}）暂时读不到：{_short(exc)}。请检查数据库是否在运行、地址和密码是否正确；学员的提问照常回答。"
            ) from exc

    def _rows(self, table: str, columns: str, at: str, class_code: str | None) -> list[tuple]:
        """A table's entries (all, or one class's), oldest first."""
        where, params = (" WHERE class_code = ?", (class_code,)) if class_code else ("", ())
        return self._read(f"SELECT id, {columns} FROM {table}{where} ORDER BY {at}, id", params)

    def entries(self, class_code: str | None = None) -> list[LoggedQuestion]:
        rows = self._rows(
            "questions",
            "asked_at, question, abstained, confidence, toc_id, breadcrumb, class_code, replica, cited, family",
            "asked_at",
            class_code,
        )
        return [
            LoggedQuestion(
                r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7] or "", r[8] or "", tuple((r[9] or "").split()), r[10] or ""
            )
            for r in rows
        ]

    def feedback(self, class_code: str | None = None) -> list[Feedback]:
        rows = self._rows(
            "feedback",
            "given_at, liked, question, answer, reason, toc_id, breadcrumb, class_code, replica",
            "given_at",
            class_code,
        )
        return [Feedback(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7], r[8] or "", r[9] or "") for r in rows]

    def practice(self, class_code: str | None = None) -> list[Practice]:
        rows = self._rows(
            "practice",
            "done_at, kind, item_id, toc_id, topic, prompt, response, score, passed, class_code, replica",
            "done_at",
            class_code,
        )
        return [Practice(*r[:9], bool(r[9]), r[10] or "", r[11] or "") for r in rows]

    def classes(self) -> list[str]:
        """Every class code seen, for the teacher view's filter."""
        rows = self._read(
            "SELECT class_code FROM questions WHERE class_code <> '' UNION SELECT class_code FROM feedback WHERE class_code <> ''"
            " UNION SELECT class_code FROM practice WHERE class_code <> ''"
        )
        return sorted({r[0] for r in rows})

    def close(self) -> None:
        """Write what still waits (one try), then close."""
        self._closed = True
        if self._pending:
            self.flush()
        self._db.close()

    # A log opened for one read (a script, a test) closes its connection pool when done; a pool
    # left to the garbage collector joins its worker threads at an arbitrary moment.
    def __enter__(self) -> QuestionLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _family(answer: Answer) -> str:
    """The scenario family a question was about: its first template's, or the one the recogniser
    read in a buyer's message (a refused one too); '' for a study question."""
    top = answer.citations[0] if answer.citations else None
    if top is not None and top.family:
        return top.family
    scenario = answer.scenario
    family = getattr(scenario, "family", "") if scenario is not None else ""
    return family if family not in (NONE, OTHER) else ""


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]
