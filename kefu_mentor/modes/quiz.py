"""练习测验: the textbook's own exercises plus questions generated from the corpus.

Answers are checked exactly for choices, tolerantly for fill-ins, and by key-point coverage
for short answers. Every answer key cites the passage (and page) it comes from.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import CorpusError
from ..pipeline.text import DOMAIN_WORDS, split_sentences, to_simplified
from ..schema import SOURCE_LABELS, SOURCE_TYPES, Chunk
from .drills import Basis, find_basis

_SQUASH = re.compile(r"[\s\u3000，,。.、；;：:！!？?“”\"'（）()【】\[\]_-]+")
KINDS = ("fill", "single", "multiple", "short", "cloze", "template")
SHORT_PASS = 0.6


def _norm(text: str) -> str:
    return _SQUASH.sub("", to_simplified(text or "")).lower()


@dataclass(frozen=True)
class QuizQuestion:
    id: str
    kind: str
    prompt: str
    origin: str  # 教材 思考与练习 / 据教材原文生成 / 据话术模板生成
    options: tuple[str, ...] = ()
    answer: str = ""  # letters for choices
    blanks: tuple[tuple[str, ...], ...] = ()  # accepted forms per blank
    points: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (key point, keywords) for short answers
    basis: Basis | None = None

    @property
    def key(self) -> str:
        """The answer key as a person reads it."""
        if self.kind in ("single", "multiple", "template"):
            return self.answer
        if self.kind in ("fill", "cloze"):
            return "；".join(b[0] for b in self.blanks)
        return "；".join(p for p, _ in self.points)


@dataclass(frozen=True)
class QuizResult:
    question: QuizQuestion
    response: str
    correct: bool
    score: float  # 0 to 1
    feedback: str


def _letters(text: str) -> str:
    return "".join(sorted(set(re.findall(r"[A-Fa-f]", text or "")))).upper()


def check(question: QuizQuestion, response: str) -> QuizResult:
    """Check one response against the question's key."""
    response = response or ""
    if question.kind in ("single", "template"):
        given = _letters(response)
        ok = given == question.answer
        return QuizResult(question, response, ok, float(ok), "回答正确。" if ok else f"正确答案是 {question.answer}。")
    if question.kind == "multiple":
        given, want = set(_letters(response)), set(question.answer)
        ok = given == want
        missing, extra = "".join(sorted(want - given)), "".join(sorted(given - want))
        feedback = (
            "回答正确。"
            if ok
            else f"正确答案是 {question.answer}。"
            + (f"漏选 {missing}。" if missing else "")
            + (f"多选 {extra}。" if extra else "")
        )
        return QuizResult(question, response, ok, len(given & want) / len(want) if not extra else 0.0, feedback)
    if question.kind in ("fill", "cloze"):
        parts = [p for p in re.split(r"[、，,；;/\s]+", response.strip()) if p]
        if len(question.blanks) == 1:
            parts = [response]
        right = 0
        for i, accepted in enumerate(question.blanks):
            given = _norm(parts[i]) if i < len(parts) else ""
            if given and any(
                given == _norm(a) or (len(_norm(a)) >= 2 and _norm(a) in given and len(given) <= len(_norm(a)) + 2)
                for a in accepted
            ):
                right += 1
        ok = right == len(question.blanks)
        return QuizResult(
            question,
            response,
            ok,
            right / len(question.blanks),
            "回答正确。" if ok else f"参考答案：{question.key}（答对 {right}/{len(question.blanks)} 空）。",
        )
    # short answer: share of key points whose keywords appear in the response
    given = _norm(response)
    covered = [p for p, words in question.points if any(_norm(w) in given for w in words)]
    share = len(covered) / len(question.points) if question.points else 0.0
    missed = [p for p, _ in question.points if p not in covered]
    feedback = f"覆盖了 {len(covered)}/{len(question.points)} 个要点。" + (
        f"还可以补充：{'；'.join(missed)}。" if missed else "要点齐全。"
    )
    return QuizResult(question, response, share >= SHORT_PASS, share, feedback)


def load_book_questions(path: Path, chunks: list[Chunk]) -> list[QuizQuestion]:
    """The textbook's 思考与练习 with our answer keys (`corpus/quiz/*.yaml`)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CorpusError(path, None, f"题库不是合法的 YAML（{exc}）", "检查缩进和引号") from None
    out = []
    for item in data.get("questions", []):
        kind = item.get("kind")
        if kind not in KINDS:
            raise CorpusError(path, None, f"题目 {item.get('id')} 的 kind“{kind}”未知", f"kind 只能是 {'/'.join(KINDS[:4])}")
        basis = find_basis(chunks, item.get("basis"), SOURCE_TYPES, 200)
        if basis is None:
            raise CorpusError(
                path, None, f"题目 {item['id']} 的依据 {item.get('basis')} 在语料中找不到", "改成语料中存在的 toc 和标题"
            )
        out.append(
            QuizQuestion(
                id=item["id"],
                kind=kind,
                prompt=item["prompt"],
                origin=data.get("source", "教材 思考与练习"),
                options=tuple(item.get("options", ())),
                answer=_letters(str(item.get("answer", ""))),
                blanks=tuple(tuple(b["accept"]) for b in item.get("blanks", ())),
                points=tuple((p["point"], tuple(p["keywords"])) for p in item.get("points", ())),
                basis=basis,
            )
        )
    return out


def cloze_questions(chunks: list[Chunk], module: str, count: int, seed: int = 0) -> list[QuizQuestion]:
    """Blank a key term in a sentence of the module's textbook text."""
    rng = random.Random(seed)
    terms = sorted({w for w in DOMAIN_WORDS if len(w) >= 2}, key=len, reverse=True)
    candidates = []
    for chunk in chunks:
        if chunk.source != "textbook" or not (chunk.toc_id == module or chunk.toc_id.startswith(module + "t")):
            continue
        for sentence in split_sentences(chunk.text):
            if not 18 <= len(sentence) <= 90 or sentence.startswith(("|", "(", "（", "表", "图")):
                continue
            term = next((t for t in terms if t in sentence), None)
            if term:
                candidates.append((chunk, sentence, term))
    rng.shuffle(candidates)
    out = []
    for n, (chunk, sentence, term) in enumerate(candidates[:count]):
        prompt = sentence.replace(term, "_____", 1)
        out.append(
            QuizQuestion(
                f"{module}-cloze-{n + 1}",
                "cloze",
                prompt,
                "据教材原文生成",
                blanks=((term,),),
                basis=Basis(SOURCE_LABELS["textbook"], chunk.title, chunk.page, chunk.text[:200]),
            )
        )
    return out


def template_questions(chunks: list[Chunk], count: int, seed: int = 0) -> list[QuizQuestion]:
    """A buyer's line: which reply fits? One right template reply and three from other scenarios."""
    rng = random.Random(seed)
    templates = [c for c in chunks if c.source == "template" and c.reply]
    out = []
    for n, chunk in enumerate(rng.sample(templates, min(count, len(templates)))):
        others = rng.sample([t for t in templates if t.toc_id != chunk.toc_id] or templates, 3)
        replies = [chunk.reply] + [o.reply for o in others]
        rng.shuffle(replies)
        letter = "ABCD"[replies.index(chunk.reply)]
        out.append(
            QuizQuestion(
                f"template-{n + 1}",
                "template",
                f"买家说：“{rng.choice(chunk.buyer_says)}” 哪一句回复最合适？",
                "据话术模板生成",
                options=tuple(f"{'ABCD'[i]}. {r}" for i, r in enumerate(replies)),
                answer=letter,
                basis=Basis(SOURCE_LABELS["template"], chunk.title, None, chunk.text[:200]),
            )
        )
    return out


def build_quiz(
    corpus_dir: Path, chunks: list[Chunk], module: str = "m1", generated: int = 5, seed: int = 0
) -> list[QuizQuestion]:
    """A module's quiz: the book's exercises, then generated cloze and template questions."""
    path = Path(corpus_dir) / "quiz" / f"{module}.yaml"
    questions = load_book_questions(path, chunks) if path.exists() else []
    questions += cloze_questions(chunks, module, generated, seed)
    questions += template_questions(chunks, max(1, generated // 2), seed)
    return questions
