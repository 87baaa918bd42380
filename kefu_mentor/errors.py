"""Errors that carry a message a person can act on, in Chinese."""

from __future__ import annotations

from pathlib import Path


class MentorError(Exception):
    """Base class: `str(error)` is a complete, user-facing message."""


class CorpusError(MentorError):
    """A corpus file is wrong: says which file, which line, what is wrong and how to fix it."""

    def __init__(self, file: Path | str, line: int | None, problem: str, fix: str):
        self.file = str(file)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = self.file if line is None else f"{self.file} 第 {line} 行"
        super().__init__(f"语料错误：{where}：{problem}。修改方法：{fix}")


class IndexUnavailable(MentorError):
    """The index is missing, stale, foreign or damaged. The message says how to fix it."""

    def __init__(self, reason: str, kind: str = "damaged"):
        self.reason = reason
        self.kind = kind  # missing | stale | foreign | damaged
        super().__init__(f"索引不可用：{reason}。请运行 `kefu-mentor build` 重新建立索引。")


class QuestionError(MentorError):
    """The question cannot be answered as given (empty, not text …)."""


class BuildLockedError(MentorError):
    """Another build holds the lock."""


class IndexTargetError(MentorError):
    """The index location holds something that is not our index: we never replace it."""
