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
from .drills import Basis, find_basis, sentence_like

_SQUASH = re.compile(r"[\s\u3000，,。.、；;：:！!？?“”\"'（）()【】\[\]_-]+")
KINDS = ("fill", "single", "multiple", "short", "cloze", "template")
# Short answers: a point is made by a clause holding one of its keywords or this share of the
# point's character pairs; the answer passes with this share of the points. Set on the dev half
# of eval/quiz/short_answers.yaml (blind paraphrases): word overlap, even with synonyms, missed
# most paraphrases, and the embedder's cosines sit at 0.88–0.95 for matching and unrelated
# clauses alike, so they cannot tell a made point from a missed one.
SHORT_PASS = 0.4
POINT_MATCH = 0.25
MODULES = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
ALL_MODULES = "all"
SESSION_SIZE = 10
# A fill-in's term without its generic tail is the same answer: 语言表达 for 语言表达能力.
_GENERIC_TAILS = ("能力", "知识", "技能", "技巧", "意识", "心态", "方法", "原则", "工作", "问题")
_CLAUSES = re.compile(r"[。！？!?；;，,、\n]+|(?:一是|二是|三是|四是|五是|首先|其次|再次|最后|另外|此外|还有|同时)")


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
    def module(self) -> str:
        """m1 … m7, from the id (m4-single-1, m1-cloze-2) or, for template questions, the basis."""
        head = self.id.split("-")[0]
        if head in MODULES:
            return head
        toc = self.basis.toc_id if self.basis else ""
        return toc[:2] if toc[:2] in MODULES else ""

    @property
    def answers(self) -> tuple[str, ...]:
        """The words that give this question's answer away (to keep them out of other questions' excerpts)."""
        if self.kind in ("fill", "cloze"):
            return tuple(a for accepted in self.blanks for a in accepted if len(_norm(a)) >= 2)
        if self.kind in ("single", "multiple"):
            return tuple(o.split(". ", 1)[-1] for o in self.options if o[:1] in self.answer and len(o.split(". ", 1)[-1]) >= 2)
        return ()

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
    matched: tuple[tuple[str, str], ...] = ()  # short answers: (key point, the learner's words that made it)


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
            if given and any(_fills(given, _norm(a)) for a in accepted):
                right += 1
        ok = right == len(question.blanks)
        return QuizResult(
            question,
            response,
            ok,
            right / len(question.blanks),
            "回答正确。" if ok else f"参考答案：{question.key}（答对 {right}/{len(question.blanks)} 空）。",
        )
    return _check_short(question, response)


def _fills(given: str, accepted: str) -> bool:
    """The book's term, the term with a little around it, or the term without a generic tail."""
    if given == accepted or (len(accepted) >= 2 and accepted in given and len(given) <= len(accepted) + 2):
        return True
    return any(accepted == given + tail for tail in _GENERIC_TAILS) and len(given) >= 2


_PAIRS_DROP = re.compile(r"[^\u4e00-\u9fff]+")
# Character pairs every answer in this domain uses: they make no key point on their own.
_GENERIC_PAIRS = {"客户", "顾客", "买家", "网店", "店铺", "客服", "商品", "可以", "进行", "需要"}


def _pairs(text: str) -> set[str]:
    text = _PAIRS_DROP.sub("", to_simplified(text))
    return {text[i : i + 2] for i in range(len(text) - 1)} - _GENERIC_PAIRS


def _point_made(point: str, keywords: tuple[str, ...], clause: str) -> bool:
    """One of the point's keywords, or enough of its character pairs: paraphrases keep many of
    the book's two-character words (发货, 订单, 物流) even when the sentence is the learner's own."""
    normed = _norm(clause)
    if any(_norm(w) in normed for w in keywords):
        return True
    wanted = _pairs(point)
    return bool(wanted) and len(wanted & _pairs(clause)) / len(wanted) >= POINT_MATCH


def _check_short(question: QuizQuestion, response: str) -> QuizResult:
    """Key points matched clause by clause (see `_point_made`), each with the learner's clause that
    made it; a list of words with no sentence is not an answer, however many keywords it holds."""
    clauses = [c.strip() for c in _CLAUSES.split(response) if c and len(c.strip()) >= 2]
    matched: list[tuple[str, str]] = []
    for point, keywords in question.points:
        best = next((clause for clause in clauses if _point_made(point, keywords, clause)), "")
        if best:
            matched.append((point, best))
    total = len(question.points) or 1
    share = len(matched) / total
    whole, why = sentence_like(response)
    missed = [p for p, _ in question.points if p not in dict(matched)]
    feedback = f"覆盖了 {len(matched)}/{len(question.points)} 个要点。" + (
        f"还可以补充：{'；'.join(missed)}。" if missed else "要点齐全。"
    )
    if not whole:
        # Exam answers are sentences: a bag of keywords shows recall, not understanding.
        share *= 0.5
        feedback = f"请用完整的句子作答：你的答案{why}。" + feedback
    return QuizResult(question, response, whole and share >= SHORT_PASS, share, feedback, tuple(matched))


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


def cloze_questions(
    chunks: list[Chunk], module: str, count: int, seed: int = 0, avoid: tuple[str, ...] = ()
) -> list[QuizQuestion]:
    """Blank a key term in a sentence of the module's textbook text. A sentence that holds
    another question's answer (`avoid`) is not used: it would give that answer away."""
    rng = random.Random(seed)
    terms = sorted({w for w in DOMAIN_WORDS if len(w) >= 2}, key=len, reverse=True)
    avoid_normed = [_norm(a) for a in avoid if len(_norm(a)) >= 2]
    candidates = []
    for chunk in chunks:
        if chunk.source != "textbook" or not (chunk.toc_id == module or chunk.toc_id.startswith(module + "t")):
            continue
        for sentence in split_sentences(chunk.text):
            if not 18 <= len(sentence) <= 90 or sentence.startswith(("|", "(", "（", "表", "图")):
                continue
            if any(a in _norm(sentence) for a in avoid_normed):
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
                basis=Basis(SOURCE_LABELS["textbook"], chunk.title, chunk.page, chunk.text[:200], chunk.toc_id),
            )
        )
    return out


def template_questions(chunks: list[Chunk], count: int, seed: int = 0, module: str | None = None) -> list[QuizQuestion]:
    """A buyer's line: which reply fits? The right template reply against three plausible ones:
    two from other scenarios of the same family, one from another family taught in the same module,
    so telling them apart takes reading the buyer's line, not spotting the off-topic option."""
    rng = random.Random(seed)
    templates = [c for c in chunks if c.source == "template" and c.reply]
    pool = [t for t in templates if module is None or t.toc_id.startswith(module)]
    out = []
    for chunk in rng.sample(pool, min(count, len(pool))):
        others = [t for t in templates if t.reply != chunk.reply]
        same = [t for t in others if t.family == chunk.family]
        near = [t for t in others if t.family != chunk.family and t.toc_id[:2] == chunk.toc_id[:2]] or [
            t for t in others if t.family != chunk.family
        ]
        picked = rng.sample(same, min(2, len(same)))
        picked += rng.sample(near, min(3 - len(picked), len(near)))
        replies = [chunk.reply] + [o.reply for o in picked]
        rng.shuffle(replies)
        letter = "ABCD"[replies.index(chunk.reply)]
        out.append(
            QuizQuestion(
                f"template-{chunk.chunk_id}",
                "template",
                f"买家说：“{rng.choice(chunk.buyer_says)}” 哪一句回复最合适？",
                "据话术模板生成",
                options=tuple(f"{'ABCD'[i]}. {r}" for i, r in enumerate(replies)),
                answer=letter,
                basis=Basis(SOURCE_LABELS["template"], chunk.title, None, chunk.text[:200], chunk.toc_id),
            )
        )
    return out


def masked_excerpt(question: QuizQuestion, others: list[QuizQuestion]) -> str:
    """The question's passage excerpt with other questions' answers blanked out, so reading it after
    one question does not hand over a later one."""
    excerpt = question.basis.excerpt if question.basis else ""
    own = set(question.answers)
    for other in others:
        if other is question:
            continue
        for term in sorted(other.answers, key=len, reverse=True):
            if term not in own and term in excerpt:
                excerpt = excerpt.replace(term, "＿" * min(len(term), 4))
    return excerpt


def build_quiz(
    corpus_dir: Path, chunks: list[Chunk], module: str = "m1", generated: int = 5, seed: int = 0
) -> list[QuizQuestion]:
    """A module's quiz: its exercises (the book's for module 1, ours for 2–7), then generated cloze
    and template questions. `module="all"` draws a session of `SESSION_SIZE` from every module in turn."""
    if module == ALL_MODULES:
        return _mixed(corpus_dir, chunks, seed)
    path = Path(corpus_dir) / "quiz" / f"{module}.yaml"
    questions = load_book_questions(path, chunks) if path.exists() else []
    answers = tuple(a for q in questions for a in q.answers)
    questions += cloze_questions(chunks, module, generated, seed, avoid=answers)
    questions += template_questions(chunks, max(1, generated // 2), seed, module)
    return questions


def _mixed(corpus_dir: Path, chunks: list[Chunk], seed: int) -> list[QuizQuestion]:
    rng = random.Random(seed)
    per_module = []
    for module in MODULES:
        questions = build_quiz(corpus_dir, chunks, module, generated=2, seed=seed)
        rng.shuffle(questions)
        if questions:
            per_module.append(questions)
    rng.shuffle(per_module)
    session: list[QuizQuestion] = []
    while len(session) < SESSION_SIZE and any(per_module):
        for questions in per_module:
            if questions and len(session) < SESSION_SIZE:
                session.append(questions.pop())
    return session
