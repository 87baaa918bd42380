"""教师看板: what the material covers, where learners' questions landed, and what it cannot answer."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..pipeline.chunking import chunk_sections
from ..pipeline.corpus import load_corpus
from ..pipeline.text import Tokenizer
from ..schema import SOURCE_LABELS, SOURCE_TYPES
from .coverage import CoverageRow, coverage_rows
from .qlog import LoggedQuestion

LOW_CONFIDENCE = 0.6


@dataclass(frozen=True)
class GapGroup:
    """Similar questions the material could not answer well."""

    example: str
    questions: tuple[str, ...]
    refused: int
    low_confidence: int

    @property
    def count(self) -> int:
        return len(self.questions)


def coverage_table(settings: Settings, log: list[LoggedQuestion] | None = None) -> list[dict]:
    """Every TOC subsection: chunks by source type, learners' questions landed there, and flags."""
    corpus = load_corpus(settings.corpus_dir)
    rows: list[CoverageRow] = coverage_rows(corpus, chunk_sections(corpus.sections, settings.chunker))
    answered = [entry for entry in (log or []) if entry.toc_id and not entry.abstained]
    landed = Counter(entry.toc_id for entry in answered)
    # Cited at any rank (entries logged before the log kept every citation count their first).
    cited = Counter(toc for entry in answered for toc in (entry.cited or (entry.toc_id,)))
    table = []
    for row in rows:
        table.append(
            {
                "toc_id": row.toc_id,
                "module": row.breadcrumb.split(" › ")[0],
                "breadcrumb": row.breadcrumb,
                "page": row.page,
                **{s: row.counts[s] for s in SOURCE_TYPES},
                "questions": landed.get(row.toc_id, 0),
                "cited": cited.get(row.toc_id, 0),
                "never_cited": cited.get(row.toc_id, 0) == 0,
                "no_material": row.total == 0,
            }
        )
    return table


def group_gaps(log: list[LoggedQuestion], tokenizer: Tokenizer | None = None, threshold: float = 0.4) -> list[GapGroup]:
    """Refused or low-confidence questions, grouped when their words overlap (Jaccard ≥ threshold)."""
    tokenizer = tokenizer or Tokenizer()
    weak = [e for e in log if e.abstained or e.confidence < LOW_CONFIDENCE]
    groups: list[tuple[set[str], list[LoggedQuestion]]] = []
    for entry in weak:
        words = set(tokenizer.tokenize(entry.question)) or {entry.question}
        for group_words, members in groups:
            if len(words & group_words) / len(words | group_words) >= threshold:
                members.append(entry)
                group_words |= words
                break
        else:
            groups.append((set(words), [entry]))
    out = [
        GapGroup(
            members[0].question,
            tuple(m.question for m in members),
            sum(m.abstained for m in members),
            sum((not m.abstained) for m in members),
        )
        for _, members in groups
    ]
    return sorted(out, key=lambda g: -g.count)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A cell Excel will not run as a formula: text starting with = + - @ (or a tab or CR) gets a
    leading apostrophe, as OWASP's CSV-injection guidance recommends. Numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _SafeWriter:
    """csv.writer whose every cell goes through `safe_cell` (learners' questions end up here)."""

    def __init__(self, handle):
        self._writer = csv.writer(handle)

    def writerow(self, row: list) -> None:
        self._writer.writerow([safe_cell(v) for v in row])


def export_csv(table: list[dict], gaps: list[GapGroup], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    coverage_path, gaps_path = folder / "coverage.csv", folder / "gaps.csv"
    with coverage_path.open("w", encoding="utf-8-sig", newline="") as handle:  # BOM so Excel reads Chinese
        writer = _SafeWriter(handle)
        writer.writerow(
            [
                "目录id",
                "模块",
                "小节",
                "页码",
                "教材原文",
                "补充资料",
                "话术模板",
                "学员提问落在此处（第一条引用）",
                "被引用次数（任一位置）",
                "从未被引用",
                "没有资料",
            ]
        )
        for r in table:
            writer.writerow(
                [
                    r["toc_id"],
                    r["module"],
                    r["breadcrumb"],
                    r["page"],
                    r["textbook"],
                    r["supplement"],
                    r["template"],
                    r["questions"],
                    r["cited"],
                    "是" if r["never_cited"] else "",
                    "是" if r["no_material"] else "",
                ]
            )
    with gaps_path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = _SafeWriter(handle)
        writer.writerow(["代表问题", "次数", "拒答次数", "低置信度次数", "所有问法"])
        for g in gaps:
            writer.writerow([g.example, g.count, g.refused, g.low_confidence, " | ".join(g.questions)])
    return coverage_path, gaps_path


# The app's label colours (app/render.py CSS), so the chart reads like the sources panel.
_COLORS = {"textbook": "#2563eb", "supplement": "#7c3aed", "template": "#059669", "teacher": "#b45309"}


def export_feedback_csv(feedback: list, folder: Path) -> Path:
    """The learners' 👎 (and 👍) with question, answer, reason and where the answer came from."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedback.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = _SafeWriter(handle)
        writer.writerow(["时间", "评价", "小节", "问题", "回答开头", "原因"])
        for f in feedback:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(f.given_at))
            writer.writerow([when, "👍" if f.liked else "👎", f.breadcrumb or "（拒答）", f.question, f.answer, f.reason])
    return path


def coverage_chart(table: list[dict], path: Path) -> Path:
    """Stacked bars: chunks per module by source type (PNG, CJK font named explicitly)."""
    from .plotting import pyplot

    plt = pyplot()
    modules = list(dict.fromkeys(r["module"] for r in table))
    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = [0] * len(modules)
    for source in SOURCE_TYPES:
        color = _COLORS[source]
        values = [sum(r[source] for r in table if r["module"] == m) for m in modules]
        ax.bar([m.split(" ")[0] for m in modules], values, bottom=bottom, label=SOURCE_LABELS[source], color=color)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("文本块数")
    ax.set_title("各模块的资料覆盖（按资料类型）")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def coverage_text(table: list[dict]) -> str:
    lines = [f"{'小节':<44}{'页码':>5}{'教材':>5}{'补充':>5}{'话术':>5}{'教师':>5}{'提问':>5}"]
    for r in table:
        flag = "  ← 没有资料" if r["no_material"] else ("  · 从未被引用" if r["never_cited"] else "")
        lines.append(
            f"{r['breadcrumb'][-42:]:<44}{r['page'] if r['page'] is not None else '-':>5}"
            f"{r['textbook']:>5}{r['supplement']:>5}{r['template']:>5}{r['teacher']:>5}{r['questions']:>5}{flag}"
        )
    covered = sum(not r["no_material"] for r in table)
    lines.append(f"\n有资料的小节：{covered}/{len(table)}；被学员的提问引用过的小节：{sum(not r['never_cited'] for r in table)}")
    return "\n".join(lines)


def coverage_json(table: list[dict], gaps: list[GapGroup]) -> str:
    return json.dumps({"coverage": table, "gaps": [g.__dict__ | {"count": g.count} for g in gaps]}, ensure_ascii=False, indent=2)
