"""What every tab shares: settings, the one `Mentor` per process, the question log and one access check."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from ..config import Settings
from ..errors import BuildLockedError, CorpusError, MentorError
from ..modes import redact
from ..modes.qlog import QuestionLog, clean_class
from ..pipeline.corpus import corpus_digest
from ..pipeline.index import BUILD_LOCKED, build_index, console_progress
from ..pipeline.mentor import Mentor
from ..schema import SOURCE_LABELS, Answer
from .render import md_escape

log = logging.getLogger(__name__)


def page_progress(progress) -> Callable[[str, int, int], None]:
    """A build's progress callback that moves the page's progress bar (a `gr.Progress`, or None)."""

    def tick(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress((done, total), desc="正在向量化语料")

    return tick


class PasswordGate:
    """The one instructor password check (teacher view and rebuild), throttled.

    After `max_failures` wrong passwords within `window` seconds, every attempt is refused for
    `lockout` seconds with a message saying how long to wait: guessing at ~45 tries a second
    becomes 5 a minute.
    """

    def __init__(
        self,
        password: str | None,
        max_failures: int = 5,
        window: float = 60.0,
        lockout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.password = password
        self.max_failures, self.window, self.lockout = max_failures, window, lockout
        self._clock = clock
        self._failures: list[float] = []
        self._locked_until = 0.0
        self._guard = threading.Lock()

    def denied(self, attempt: str | None) -> str | None:
        """None when `attempt` opens the gate (or no password is set), else the reason in Chinese."""
        if not self.password:
            return None
        if not attempt:
            # Not a guess (the teacher tab runs the view as it opens): never counted, never a lock.
            return "请输入教师密码。"
        with self._guard:
            now = self._clock()
            if now < self._locked_until:
                return f"密码错误次数太多，请 {int(self._locked_until - now) + 1} 秒后再试。"
            if hmac.compare_digest(str(attempt).encode(), self.password.encode()):
                self._failures.clear()
                return None
            self._failures = [t for t in self._failures if now - t < self.window] + [now]
            if len(self._failures) >= self.max_failures:
                self._locked_until = now + self.lockout
                self._failures.clear()
                return f"密码错误次数太多，请 {int(self.lockout)} 秒后再试。"
            return "教师密码不对。"


class AppContext:
    """One per process: loads the `Mentor` once, swaps it after a rebuild, guards instructor actions."""

    def __init__(
        self,
        settings: Settings,
        instructor_password: str | None = None,
        network: bool = False,
        question_log: QuestionLog | None = None,
        log_problem: str | None = None,
    ):
        self.settings = settings
        self.question_log = question_log
        # Why there is no question log at all (a database address that cannot work), for the page.
        self.log_problem = log_problem
        self.instructor_password = instructor_password
        self.gate = PasswordGate(instructor_password)
        self.network = network
        self._mentor: Mentor | None = None
        self._lock = threading.Lock()
        self.startup_notice = ""
        # Set while `load_in_background` runs; (done, total) passages embedded by a rebuild.
        self._loading = threading.Event()
        self._progress = (0, 0)
        self._console = console_progress()
        self._tried_digest: str | None = None  # the corpus state `recheck` last rebuilt for
        self._changes = threading.Lock()  # see `changing`

    def mentor(self) -> Mentor:
        """The shared mentor, loaded (or rebuilt when stale) on first use."""
        with self._lock:
            if self._mentor is None:
                notices = []
                self._console = console_progress()  # a fresh bar for each build
                self._mentor = Mentor.load(
                    self.settings.index_dir, self.settings, rebuild=True, notify=notices.append, progress=self._on_progress
                )
                self.startup_notice = "；".join(notices)
            return self._mentor

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self._progress = (done, total)
        self._console(stage, done, total)

    def load_in_background(self) -> None:
        """Load (or rebuild) the mentor while the page is already served."""
        self._loading.set()

        def load() -> None:
            try:
                self.mentor()
                if self.startup_notice:
                    print(self.startup_notice, flush=True)
            except MentorError as exc:  # each answer and the status say it again
                print(exc, flush=True)
                log.warning("index unavailable: %s", exc)
            finally:
                self._loading.clear()

        threading.Thread(target=load, name="load-index", daemon=True).start()
        # The redaction library and its gazetteer (~2 s), alongside, before the first question is logged.
        threading.Thread(target=redact.warm, name="load-redaction", daemon=True).start()

    def busy(self, wait: float = 0.0) -> str | None:
        """None when the mentor can answer now; while a background load runs (after waiting up
        to `wait` seconds for it), what to tell the user."""
        deadline = time.monotonic() + wait
        while self._loading.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not self._loading.is_set():
            return None
        done, total = self._progress
        if total:
            return f"正在建立索引（已向量化 {done}/{total} 段），完成后即可提问，请稍候……"
        return "正在加载索引，请稍候几秒再问……"

    def recheck(self) -> bool:
        """Bring in a changed corpus without a restart; True when a new index now serves.

        Runs in the background (`watch`), never per question. It rebuilds only when the corpus
        files differ from what the serving index was built from (or the serving index is the
        last good one after a failed build), and tries each changed state of the files once:
        a corpus still broken is not rebuilt again every round. The switch is one reference
        swap, so a question in flight finishes on the index it started with.
        """
        # An instructor's upload or rebuild in this process is changing the corpus and index: its
        # own switch is the right one, so this round stands aside.
        if not self._changes.acquire(blocking=False):
            return False
        try:
            current = self._mentor
            if current is None or self._loading.is_set():
                return False
            try:
                digest = corpus_digest(self.settings.corpus_dir)
            except (OSError, MentorError):
                return False
            built_from = current.manifest.get("corpus", {}).get("digest")
            if (digest == built_from and not current.store.stale_reason) or digest == self._tried_digest:
                return False
            self._console = console_progress()
            try:
                fresh = Mentor.load(self.settings.index_dir, self.settings, rebuild=True, progress=self._on_progress)
            except MentorError as exc:
                log.warning("re-check could not load an index: %s", exc)
                return False
            reason = fresh.store.stale_reason or ""
            if BUILD_LOCKED not in reason:  # held off by a build elsewhere (CLI, replica): try again next round
                self._tried_digest = digest
            if reason and fresh.manifest.get("built_at") == current.manifest.get("built_at"):
                # Still the last good index: keep serving it, with the newest reason to show.
                self.replace_mentor(fresh)
                return False
            self.replace_mentor(fresh)
            log.info("corpus changed: now serving the index built at %s", fresh.manifest.get("built_at"))
            return True
        finally:
            self._changes.release()

    @contextmanager
    def changing(self):
        """Held while an instructor changes the corpus or rebuilds (uploads, removal, rebuild)."""
        with self._changes:
            yield

    def watch(self, interval: float) -> None:
        """Re-check the corpus every `interval` seconds in a background thread."""

        def loop() -> None:
            while True:
                time.sleep(interval)
                try:
                    self.recheck()
                except Exception:  # a watcher must never die of one bad round
                    log.exception("corpus re-check failed")

        threading.Thread(target=loop, name="watch-corpus", daemon=True).start()

    def rebuild(self, password: str | None, progress: Callable[[str, int, int], None] | None = None) -> str:
        """The instructor's rebuild (chat and teacher tabs): Markdown saying what happened."""
        denied = self.instructor_denied(password)
        if denied:
            return f"{denied}索引没有改动。"
        try:
            with self.changing():
                build_index(self.settings, progress=progress)
                fresh = Mentor.load(self.settings.index_dir, self.settings)
                self.replace_mentor(fresh)
        except (CorpusError, BuildLockedError) as exc:
            return f"重建失败，原来的索引仍在使用：{md_escape(str(exc))}"
        except MentorError as exc:
            return f"重建失败：{md_escape(str(exc))}"
        return "重建完成。\n\n" + self.status()

    def stale_reason(self) -> str | None:
        """Why the serving index is the last good one (the corpus changed but could not be indexed), if it is."""
        mentor = self._mentor
        return mentor.store.stale_reason if mentor is not None else None

    def replace_mentor(self, fresh: Mentor) -> None:
        """Serve `fresh` from the next question on (after a rebuild)."""
        with self._lock:
            self._mentor = fresh
            self.startup_notice = ""

    def instructor_denied(self, password: str | None) -> str | None:
        """The one access check for instructor actions: None when allowed, else why not (in Chinese).

        On a network address without a password, instructor actions are closed altogether.
        """
        if self.network and not self.instructor_password:
            return "应用在网络上提供服务，但没有设置教师密码，教师功能已关闭。请设置环境变量 KEFU_MENTOR_INSTRUCTOR_PASSWORD。"
        return self.gate.denied(password)

    def record(self, answer: Answer, class_code: str = "") -> None:
        """Log a question (redacted before writing); a full disk must not cost the learner their answer."""
        if self.question_log is None:
            return
        try:
            self.question_log.record(answer, class_code)
        except Exception:
            log.exception("could not log the question")

    def record_practice(self, class_code: str = "", **entry) -> None:
        """Log a drill reply or a quiz answer for the teacher view (redacted; never costs the learner a grade)."""
        if self.question_log is None:
            return
        try:
            self.question_log.record_practice(class_code=class_code, **entry)
        except Exception:
            log.exception("could not log the practice entry")

    def log_status(self) -> str | None:
        """What is wrong with the question log, if anything (for the teacher view), in Chinese."""
        if self.question_log is None:
            return self.log_problem
        return self.question_log.problem

    def status(self) -> str:
        """The index status line for the page."""
        busy = self.busy()
        if busy:
            return f"**{busy}**"
        try:
            mentor = self.mentor()
        except MentorError as exc:
            return f"**索引不可用**：{md_escape(str(exc))}"
        m = mentor.manifest
        sources = "，".join(f"{SOURCE_LABELS[s]} {n}" for s, n in m.get("sources", {}).items() if n)
        notice = f"\n\n{md_escape(self.startup_notice)}" if self.startup_notice else ""
        return (
            f"**索引状态**：{m['chunk_count']} 个文本块（{sources}）· 向量模型 `{m['embedder']['id']}`（{m['embedder']['dim']} 维）"
            f" · 语料指纹 `{m['corpus']['digest'][:10]}` · 建立于 {m['built_at']}{notice}"
        )


def usable_class(code: str | None) -> str:
    """The class code to record: an unusable one is not recorded (the chat tab says why under the box)."""
    try:
        return clean_class(code)
    except ValueError:
        return ""
