"""情景演练: the mentor plays a buyer from the template library and grades the trainee's reply.

The rubric is data (`corpus/drills/rubric.yaml`), so instructors change what is required or
forbidden without touching code. Every rubric item cites the passage it comes from.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..errors import CorpusError
from ..pipeline.chunking import find_passage
from ..pipeline.corpus import load_templates
from ..pipeline.embedding import Embedder
from ..schema import SOURCE_LABELS, Chunk

_NEGATION = re.compile(r"(不要|别|不能|请勿|切勿|不会|不用|无需|不必|不得|禁止)[^，。！？,.!?]{0,6}$")


@dataclass(frozen=True)
class Scenario:
    """One drill: a template's scenario, opened with one of the buyer's lines."""

    template_id: str
    family: str
    stage: str
    scenario: str
    buyer_line: str
    reply: str
    why: str
    avoid: str
    toc: str


@dataclass(frozen=True)
class Basis:
    """Where a rubric item comes from in the material."""

    label: str  # 教材原文 / 补充资料
    title: str  # the passage's breadcrumb as one string
    page: int | None
    excerpt: str


@dataclass(frozen=True)
class RubricItem:
    key: str
    label: str
    kind: str  # required | forbidden | similarity
    passed: bool
    points: float
    evidence: str
    basis: Basis | None


@dataclass(frozen=True)
class Grade:
    scenario: Scenario
    reply: str
    score: float
    items: tuple[RubricItem, ...]
    similarity: float


@dataclass
class Rubric:
    elements: dict
    forbidden: dict
    families: dict
    points: dict
    similarity: dict

    @classmethod
    def load(cls, path: Path) -> Rubric:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CorpusError(path, None, "找不到评分规则文件", "在 corpus/drills/ 下放置 rubric.yaml") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise CorpusError(
                path, None if mark is None else mark.line + 1, "评分规则不是合法的 YAML", "检查缩进和引号"
            ) from None
        for key in ("elements", "forbidden", "families", "points", "similarity"):
            if not isinstance(data.get(key), dict):
                raise CorpusError(path, None, f"评分规则缺少 {key}", f"补上 {key}: 部分（见文件开头的说明）")
        for family, keys in data["families"].items():
            unknown = [k for k in keys if k not in data["elements"]]
            if unknown:
                raise CorpusError(
                    path, None, f"类别“{family}”要求的要素 {unknown} 没有在 elements 中定义", "先在 elements 里定义它们"
                )
        return cls(data["elements"], data["forbidden"], data["families"], data["points"], data["similarity"])

    def required_for(self, family: str) -> list[str]:
        return list(self.families.get(family) or self.families.get("default") or [])


def load_scenarios(corpus_dir: Path) -> list[Scenario]:
    """Every buyer line of every template is a possible drill opening (templates validated as the index reads them)."""
    return [
        Scenario(t.id, t.family, t.stage, t.scenario, line, t.reply, t.why, t.avoid, t.toc)
        for t in load_templates(corpus_dir)
        for line in t.buyer_says
    ]


def find_basis(chunks: list[Chunk], spec: dict | None, sources: tuple[str, ...], excerpt_chars: int) -> Basis | None:
    """The passage a rubric item or a quiz answer rests on (`spec`: toc and heading), first source first."""
    if not spec:
        return None
    found = find_passage(chunks, spec.get("toc", ""), spec.get("heading", ""), sources)
    if not found:
        return None
    chunk, excerpt = found
    return Basis(SOURCE_LABELS[chunk.source], chunk.title, chunk.page, excerpt[:excerpt_chars])


def _matches(text: str, spec: dict) -> str | None:
    """The first phrase of `spec` found in `text` and not negated just before it."""
    for word in spec.get("any", []):
        start = text.find(word)
        while start != -1:
            if not _NEGATION.search(text[max(0, start - 10) : start]):
                return word
            start = text.find(word, start + 1)
    for pattern in spec.get("regex", []):
        found = re.search(pattern, text)
        if found:
            return found.group(0)
    return None


class DrillCoach:
    """Picks scenarios and grades replies against the rubric and the recommended reply."""

    def __init__(
        self, scenarios: list[Scenario], rubric: Rubric, embedder: Embedder, chunks: list[Chunk], seed: int | None = None
    ):
        if not scenarios:
            raise CorpusError("corpus/templates", None, "没有任何话术模板，无法进行情景演练", "先在 corpus/templates/ 中添加话术")
        self.scenarios = scenarios
        self.rubric = rubric
        self.embedder = embedder
        self.chunks = chunks
        self._random = random.Random(seed)
        self._basis_cache: dict[tuple[str, str], Basis | None] = {}

    def families(self) -> list[str]:
        return sorted({s.family for s in self.scenarios})

    def next_scenario(self, family: str | None = None, exclude: str | None = None) -> Scenario:
        pool = [s for s in self.scenarios if (not family or s.family == family) and s.template_id != exclude]
        return self._random.choice(pool or self.scenarios)

    def basis(self, spec: dict | None) -> Basis | None:
        """The passage a rubric item cites: textbook first, then our supplement."""
        if not spec:
            return None
        key = (spec.get("toc", ""), spec.get("heading", ""))
        if key not in self._basis_cache:
            self._basis_cache[key] = find_basis(self.chunks, spec, ("textbook", "supplement"), 160)
        return self._basis_cache[key]

    def grade(self, scenario: Scenario, reply: str) -> Grade:
        reply = (reply or "").strip()
        required = self.rubric.required_for(scenario.family)
        share = float(self.rubric.points["elements"]) / max(1, len(required))
        items = []
        for key in required:
            spec = self.rubric.elements[key]
            hit = _matches(reply, spec)
            items.append(
                RubricItem(
                    key,
                    spec["label"],
                    "required",
                    hit is not None,
                    share if hit else 0.0,
                    f"出现了“{hit}”" if hit else "回复中没有找到",
                    self.basis(spec.get("basis")),
                )
            )
        for key, spec in self.rubric.forbidden.items():
            hit = _matches(reply, spec)
            penalty = -float(self.rubric.points["forbidden"]) if hit else 0.0
            items.append(
                RubricItem(
                    key,
                    spec["label"],
                    "forbidden",
                    hit is None,
                    penalty,
                    f"出现了“{hit}”" if hit else "没有出现",
                    self.basis(spec.get("basis")),
                )
            )
        vectors = self.embedder.embed_passages([reply or "（空）", scenario.reply])
        similarity = float(np.dot(vectors[0], vectors[1]))
        low, high = float(self.rubric.similarity["low"]), float(self.rubric.similarity["high"])
        ratio = min(1.0, max(0.0, (similarity - low) / (high - low)))
        sim_points = ratio * float(self.rubric.points["similarity"])
        items.append(
            RubricItem(
                "similarity",
                "与推荐回复的接近程度",
                "similarity",
                ratio >= 0.5,
                sim_points,
                f"语义相似度 {similarity:.2f}（{ratio:.0%}）",
                None,
            )
        )
        score = max(0.0, min(100.0, sum(i.points for i in items)))
        return Grade(scenario, reply, round(score, 1), tuple(items), similarity)


@dataclass
class DrillSummary:
    """Scores per scenario family over a session."""

    scores: dict[str, list[float]] = field(default_factory=dict)

    def add(self, grade: Grade) -> None:
        self.scores.setdefault(grade.scenario.family, []).append(grade.score)

    def rows(self) -> list[tuple[str, int, float, float]]:
        return [(family, len(v), sum(v) / len(v), max(v)) for family, v in sorted(self.scores.items())]
