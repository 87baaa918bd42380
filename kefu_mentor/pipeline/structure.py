"""Where in the book a question points: "任务一的任务实践", "模块一课后实训", "拓展阅读里…".

An instructor looks things up by the book's own structure. Those words are in a passage's
breadcrumb, not its text, and every module has a 任务一 and a 任务实践, so neither search
alone finds the one meant; a passage whose breadcrumb holds every named part is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMERALS = "一二三四五六七八九"
_NUMBER = rf"([{_NUMERALS}]|\d)"
_MODULE = re.compile(rf"模块{_NUMBER}|第{_NUMBER}个?模块")
_TASK = re.compile(rf"任务{_NUMBER}|第{_NUMBER}个任务")
# The book's recurring parts, by the names a reader uses for them → the name in breadcrumbs.
_PARTS = (
    (re.compile(r"任务实践"), "任务实践"),
    (re.compile(r"拓展阅读"), "拓展阅读"),
    (re.compile(r"课后实训|实训"), "课后实训"),
    (re.compile(r"思考与练习|课后练习|课后习题|习题"), "思考与练习"),
    (re.compile(r"课前讨论"), "课前讨论"),
    (re.compile(r"知识储备"), "知识储备"),
)


# Words that ask where something is in the book ("在第几页", "哪一节"): a learner's, never a buyer's.
BOOK_PLACE_WORDS = r"第几页|哪一?页|页码|哪一?节|哪一?章|哪个模块|哪个任务"


def _numeral(match: re.Match) -> str:
    value = next(g for g in match.groups() if g)
    return _NUMERALS[int(value) - 1] if value.isdigit() and 0 < int(value) <= len(_NUMERALS) else value


@dataclass(frozen=True)
class Place:
    """The parts of the book a question names; empty fields were not named."""

    module: str = ""  # a numeral, "一" for 模块一
    task: str = ""
    part: str = ""  # a breadcrumb name from `_PARTS`

    def __bool__(self) -> bool:
        return bool(self.module or self.task or self.part)

    def holds(self, breadcrumb: tuple[str, ...]) -> bool:
        """True when the breadcrumb lies inside every part named."""
        if not self:
            return False
        top = breadcrumb[0] if breadcrumb else ""
        if self.module and not top.startswith(f"模块{self.module}"):
            return False
        if self.task and not any(b.startswith(f"任务{self.task}") for b in breadcrumb[1:]):
            return False
        return not self.part or any(self.part in b for b in breadcrumb[1:])


def place_named(text: str) -> Place:
    """The module, task and part a question names, if any."""
    module = _MODULE.search(text)
    task = _TASK.search(text)
    part = next((name for pattern, name in _PARTS if pattern.search(text)), "")
    return Place(_numeral(module) if module else "", _numeral(task) if task else "", part)
