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
from .qlog import PRACTICE_KINDS, Feedback, LoggedQuestion, Practice

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


def coverage_table(
    settings: Settings,
    log: list[LoggedQuestion] | None = None,
    feedback: list[Feedback] | None = None,
    practice: list[Practice] | None = None,
) -> list[dict]:
    """Every TOC subsection: chunks by source type; learners' questions landed there (first
    citation) and cited there (any rank); answers given there with low confidence or a 👎; drill
    replies and quiz answers on it; and `need`, how much it calls for the teacher's attention."""
    corpus = load_corpus(settings.corpus_dir)
    rows: list[CoverageRow] = coverage_rows(corpus, chunk_sections(corpus.sections, settings.chunker))
    answered = [entry for entry in (log or []) if entry.toc_id and not entry.abstained]
    landed = Counter(entry.toc_id for entry in answered)
    # Cited at any rank (entries logged before the log kept every citation count their first).
    cited = Counter(toc for entry in answered for toc in (entry.cited or (entry.toc_id,)))
    unsure = Counter(entry.toc_id for entry in answered if entry.confidence < LOW_CONFIDENCE)
    disliked = Counter(f.toc_id for f in (feedback or []) if not f.liked and f.toc_id)
    # Whether a reply or answer passed was decided once, when it was logged.
    drills: dict[str, list[Practice]] = {}
    quizzes: dict[str, list[Practice]] = {}
    for p in practice or []:
        if p.toc_id:
            (drills if p.kind == "drill" else quizzes).setdefault(p.toc_id, []).append(p)
    table = []
    for row in rows:
        toc = row.toc_id
        replies, answers = drills.get(toc, []), quizzes.get(toc, [])
        drill_scores = [p.score for p in replies]
        weak_drills = sum(not p.passed for p in replies)
        wrong = sum(not p.passed for p in answers)
        table.append(
            {
                "toc_id": toc,
                "module": row.breadcrumb.split(" › ")[0],
                "breadcrumb": row.breadcrumb,
                "page": row.page,
                **{s: row.counts[s] for s in SOURCE_TYPES},
                "questions": landed.get(toc, 0),
                "cited": cited.get(toc, 0),
                "never_cited": cited.get(toc, 0) == 0,
                "no_material": row.total == 0,
                "low_confidence": unsure.get(toc, 0),
                "disliked": disliked.get(toc, 0),
                "drills": len(drill_scores),
                "drill_avg": sum(drill_scores) / len(drill_scores) if drill_scores else None,
                "weak_drills": weak_drills,
                "quizzes": len(answers),
                "quiz_wrong": wrong,
                # What the teacher should look at first: each sign of trouble counts once, a 👎 twice
                # (a learner took the trouble to say so).
                "need": unsure.get(toc, 0) + 2 * disliked.get(toc, 0) + weak_drills + wrong,
            }
        )
    return table


def by_need(table: list[dict]) -> list[dict]:
    """The coverage rows most in need first; the rest keep the book's order."""
    order = {id(row): i for i, row in enumerate(table)}
    return sorted(table, key=lambda row: (-row["need"], order[id(row)]))


@dataclass(frozen=True)
class FamilyRow:
    """One scenario family: learners' questions about it and their drill replies, with the weakest."""

    family: str
    questions: int
    weak_questions: int  # refused or answered with low confidence
    attempts: int
    average: float | None
    lowest: float | None
    weakest_prompt: str
    weakest_reply: str
    weak_drills: int = 0  # drill replies under the pass mark


def family_rows(practice: list[Practice], log: list[LoggedQuestion] | None = None) -> list[FamilyRow]:
    """Per scenario family, most in need first (weak answers and failed drill replies), then weakest average."""
    drills: dict[str, list[Practice]] = {}
    for p in practice:
        if p.kind == "drill":
            drills.setdefault(p.topic, []).append(p)
    asked: dict[str, list[LoggedQuestion]] = {}
    for entry in log or []:
        if entry.family:
            asked.setdefault(entry.family, []).append(entry)
    rows = []
    for family in sorted(set(drills) | set(asked)):
        items, questions = drills.get(family, []), asked.get(family, [])
        weakest = min(items, key=lambda p: p.score) if items else None
        rows.append(
            FamilyRow(
                family,
                len(questions),
                sum(e.abstained or e.confidence < LOW_CONFIDENCE for e in questions),
                len(items),
                sum(p.score for p in items) / len(items) if items else None,
                weakest.score if weakest else None,
                weakest.prompt if weakest else "",
                weakest.response if weakest else "",
                sum(not p.passed for p in items),
            )
        )
    return sorted(rows, key=lambda r: (-(r.weak_questions + r.weak_drills), 2.0 if r.average is None else r.average, r.family))


def weakest_practice(practice: list[Practice], limit: int = 30) -> list[Practice]:
    """Drill replies below the pass mark and wrong quiz answers, lowest score first: what to go over in class."""
    weak = [p for p in practice if not p.passed]
    return sorted(weak, key=lambda p: (p.score, -p.done_at))[:limit]


def practice_label(kind: str) -> str:
    return PRACTICE_KINDS.get(kind, kind)


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
                "低置信度回答",
                "👎",
                "演练次数",
                "演练平均分",
                "测验作答",
                "测验答错",
                "需要关注",
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
                    r["low_confidence"],
                    r["disliked"],
                    r["drills"],
                    "" if r["drill_avg"] is None else round(100 * r["drill_avg"]),
                    r["quizzes"],
                    r["quiz_wrong"],
                    r["need"],
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


def export_practice_csv(practice: list[Practice], folder: Path) -> Path:
    """Every drill reply and quiz answer (redacted when stored), with score and pass/fail."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "practice.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = _SafeWriter(handle)
        writer.writerow(["时间", "类型", "类别或章节", "题目或买家的话", "学员的回答", "得分", "结果"])
        for p in practice:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(p.done_at))
            writer.writerow(
                [
                    when,
                    practice_label(p.kind),
                    p.topic,
                    p.prompt,
                    p.response,
                    round(100 * p.score),
                    "通过" if p.passed else "未通过",
                ]
            )
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
