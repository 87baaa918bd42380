"""The short-answer grader measured on answers of known quality (`eval/quiz/short_answers.yaml`).

For each short question of the quiz (module 1's book exercises and our questions for modules
2–7), helpers who saw only the question and the passage that answers it wrote three good answers
in their own words, a partial one, a bare keyword list and a fluent answer to another question.
A good answer should pass; the other three should not. Split by question id: tune on dev only.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import yaml

from ..modes.quiz import MODULES, QuizQuestion, check, load_book_questions
from ..schema import Chunk

SHORT_ANSWERS = Path("eval/quiz/short_answers.yaml")
KINDS = {"good": "好答案（学员自己的话）", "partial": "只答到一点", "keywords": "关键词罗列", "wrong": "答非所问"}
SHOULD_PASS = {"good": True, "partial": False, "keywords": False, "wrong": False}


def split_of(question_id: str) -> str:
    return "dev" if int(hashlib.sha1(question_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def short_questions(corpus_dir: Path, chunks: list[Chunk]) -> dict[str, QuizQuestion]:
    out = {}
    for module in MODULES:
        path = Path(corpus_dir) / "quiz" / f"{module}.yaml"
        if path.exists():
            out.update({q.id: q for q in load_book_questions(path, chunks) if q.kind == "short"})
    return out


def measure(corpus_dir: Path, chunks: list[Chunk], data: Path = SHORT_ANSWERS) -> dict[str, dict[str, dict]]:
    """{split: {kind: {"answers", "right" (share graded as it should be), "score" (mean)}}}."""
    questions = short_questions(corpus_dir, chunks)
    tally: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for item in yaml.safe_load(Path(data).read_text(encoding="utf-8")):
        question = questions[item["id"]]
        for answer in item["answers"]:
            result = check(question, answer["text"])
            tally[split_of(item["id"])][answer["kind"]].append((result.correct == SHOULD_PASS[answer["kind"]], result.score))
    return {
        split: {
            kind: {
                "answers": len(rows),
                "right": sum(ok for ok, _ in rows) / len(rows),
                "score": sum(s for _, s in rows) / len(rows),
            }
            for kind, rows in sorted(kinds.items(), key=lambda kv: list(KINDS).index(kv[0]))
        }
        for split, kinds in sorted(tally.items())
    }


def format_report(results: dict) -> str:
    lines = [
        "| 答案类型 | 应判 | " + " | ".join(f"{split}：判对比例 / 平均得分（条数）" for split in results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for kind, label in KINDS.items():
        cells = []
        for split in results:
            row = results[split].get(kind)
            cells.append(f"{row['right']:.2f} / {row['score']:.0%}（{row['answers']}）" if row else "-")
        lines.append(f"| {label} | {'通过' if SHOULD_PASS[kind] else '不通过'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_section(table: str) -> str:
    return (
        "## 练习测验简答题评分（kefu-mentor eval-quiz）\n\n"
        "由 `kefu-mentor eval-quiz --report docs/evaluation.md` 写入。每道简答题有助手只看题目和答案所在段落盲写的答案："
        "三条用自己的话写的好答案（应通过），只答到一点的、关键词罗列的、答非所问的各一条（都不应通过）。"
        "按题目 id 分 dev/test，阈值只在 dev 上定。\n\n" + table + "\n"
    )
