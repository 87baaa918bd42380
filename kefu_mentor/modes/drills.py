"""情景演练: the mentor plays a buyer from the template library and grades the trainee's reply.

The rubric is data (`corpus/drills/rubric.yaml`), so instructors change what is required or
forbidden without touching code. Every rubric item cites the passage it comes from.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from ..errors import CorpusError
from ..pipeline.chunking import find_passage
from ..pipeline.corpus import load_templates
from ..pipeline.embedding import Embedder
from ..pipeline.scenario import ScenarioModel
from ..pipeline.text import Tokenizer
from ..schema import SOURCE_LABELS, Chunk

# A reply at or above this score passes (the teacher view counts the ones below it).
PASS_SCORE = 60.0
_WARNING = re.compile(
    r"[^，。！？,.!?]{0,12}(一旦|万一|很难|有风险|风险大|不安全|没有保障|没保障|不好保障|容易被骗|不受保护"
    # "…删差评这种要求我们没法接受", "私下转账真不行": refused right after it
    r"|没法接受|不能接受|无法接受|不接受|不行|不可以|不允许|做不了|办不到|不做|不搞|不提供|不支持"
    # "好评不好评您自己定": the buyer decides, nothing is traded
    r"|自己定|不强求|随您)"
)
_NEGATION = re.compile(
    r"(不要|别|不能|请勿|切勿|不会|不用|无需|不必|不得|禁止|不是|没有|并非|从不|不可以|不允许|不让|不支持|没法|没办法|无法|不敢|不加|不走|不能说|不进行|不接受|不提供|不参与|不做"
    # "谨防有人冒充客服加您微信": a warning against it
    r"|谨防|提防|当心|警惕|小心)[^，。！？,.!?]{0,8}$"
    # "不一定能", "不保证": the phrase itself negated
    r"|不$"
)

_A_NOT_A = re.compile(r"([\u4e00-\u9fff])不\1")


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
    turn: int = 1
    # The buyer's next message and its recommended reply (the template's follow-up), for turn 2.
    next_buyer: str = ""
    next_reply: str = ""
    next_avoid: str = ""

    def second_turn(self) -> Scenario | None:
        """The same scenario one message later: the buyer answers the trainee's reply."""
        if self.turn != 1 or not self.next_buyer:
            return None
        return replace(
            self,
            turn=2,
            buyer_line=self.next_buyer,
            reply=self.next_reply,
            avoid=self.next_avoid,
            next_buyer="",
            next_reply="",
            next_avoid="",
        )


@dataclass(frozen=True)
class Basis:
    """Where a rubric item comes from in the material."""

    label: str  # 教材原文 / 补充资料
    title: str  # the passage's breadcrumb as one string
    page: int | None
    excerpt: str
    toc_id: str = ""  # the TOC node, so the teacher view can count practice per section


@dataclass(frozen=True)
class RubricItem:
    key: str
    label: str
    kind: str  # relevance | key_points | form | required | forbidden
    passed: bool
    points: float
    evidence: str  # why it passed or failed, for the trainee
    basis: Basis | None


@dataclass(frozen=True)
class Grade:
    scenario: Scenario
    reply: str
    score: float
    items: tuple[RubricItem, ...]
    advice: str  # the one thing to fix first
    relevance: float  # how much closer to this scenario than to any other family's (cosine margin)


@dataclass
class Rubric:
    elements: dict
    forbidden: dict
    families: dict
    points: dict
    relevance: dict
    key_points: dict
    form: dict
    conduct: dict = field(default_factory=dict)  # the conduct model's label and basis (optional)

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
        for key in ("elements", "forbidden", "families", "points", "relevance", "key_points", "form"):
            if not isinstance((data or {}).get(key), dict):
                raise CorpusError(path, None, f"评分规则缺少 {key}", f"补上 {key}: 部分（见文件开头的说明）")
        for family, keys in data["families"].items():
            unknown = [k for k in keys if k not in data["elements"]]
            if unknown:
                raise CorpusError(
                    path, None, f"类别“{family}”要求的要素 {unknown} 没有在 elements 中定义", "先在 elements 里定义它们"
                )
        return cls(
            data["elements"],
            data["forbidden"],
            data["families"],
            data["points"],
            data["relevance"],
            data["key_points"],
            data["form"],
            data.get("conduct") or {},
        )

    def required_for(self, family: str) -> list[str]:
        return list(self.families.get(family) or self.families.get("default") or [])


def load_scenarios(corpus_dir: Path) -> list[Scenario]:
    """Every buyer line of every template is a possible drill opening (templates validated as the index reads them)."""
    return [
        Scenario(
            t.id,
            t.family,
            t.stage,
            t.scenario,
            line,
            t.reply,
            t.why,
            t.avoid,
            t.toc,
            1,
            *((t.follow_up.buyer, t.follow_up.reply, t.follow_up.avoid) if t.follow_up else ()),
        )
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
    return Basis(SOURCE_LABELS[chunk.source], chunk.title, chunk.page, excerpt[:excerpt_chars], chunk.toc_id)


def _matches(text: str, spec: dict) -> str | None:
    """The first phrase of `spec` found in `text` and not negated just before it (unless the
    spec says `negatable: false`: "别那么大惊小怪" is still rude)."""
    negatable = spec.get("negatable", True)

    def negated(start: int) -> bool:
        if not negatable:
            return False
        # "不要私下转账" (a negation before it), "私下转账一旦出了问题很难维权" (a warning after it).
        end = start + 1
        # "能不能帮忙改成好评" asks for it: an A-not-A question (能不能, 要不要, 是不是) negates nothing.
        before = _A_NOT_A.sub("", text[max(0, start - 12) : start])
        return bool(_NEGATION.search(before) or _WARNING.match(text, end))

    for word in spec.get("any", []):
        start = text.find(word)
        while start != -1:
            if not negated(start):
                return word
            start = text.find(word, start + 1)
    for pattern in spec.get("regex", []):
        for found in re.finditer(pattern, text):
            if not negated(found.start()):
                return found.group(0)
    return None


_PLACEHOLDER = re.compile(r"【[^】]*】")
_QUOTED = re.compile(r"“([^”]{2,30})”")
_GLUE = set("的了吗呢吧哦呀啊嘛哈您我你他她是在会要能就都也给把帮让请再先还这那有没不很")
_BREAKS = re.compile(r"[\s、，,；;/|]+")


def sentence_like(reply: str) -> tuple[bool, str]:
    """Whole sentences addressed to someone, or a list of words ("您好 抱歉 优惠 下单")?

    A word list has many short pieces and almost none of the small words that hold a Chinese
    sentence together (的 了 吗 您 我 是 会 …).
    """
    text = reply.strip()
    pieces = [p for p in _BREAKS.split(text) if p]
    chinese = [c for c in text if "\u4e00" <= c <= "\u9fa5"]
    glue = sum(c in _GLUE for c in chinese) / max(1, len(chinese))
    short = sum(len(p) <= 4 for p in pieces) / max(1, len(pieces))
    punctuated = bool(re.search(r"[。！？!?，,～~]", text))
    if len(pieces) >= 5 and short >= 0.7 and (glue < 0.12 or (not punctuated and short >= 0.85)):
        return False, f"像是一串词语（{len(pieces)} 个短词，几乎没有把句子连起来的字）"
    if not chinese:
        return False, "没有中文内容，买家看不出你要说什么"
    return True, "是写给买家的完整句子"


_COURTESY = re.compile(r"您|亲|谢谢|感谢|抱歉|不好意思|理解|麻烦|请")


@dataclass(frozen=True)
class ToneModel:
    """A logistic regression over the reply's embedding and its characters (1–3-grams, hashed into
    `buckets`): how likely a fair instructor reads it as impatient, sarcastic or blaming. Rude
    replies use words no list foresees ("就这价钱还挑啥"), and sarcasm wears polite words ("您心可真大"):
    the embedding carries the register, the character grams the tell-tale turns (哟, 不会…吗, 可别).
    Trained on the dev split of the graded replies by `kefu-mentor train-tone`; tied to its embedder."""

    embedder_id: str
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    buckets: int = 0  # 0: embedding only (a model saved before character grams)

    @classmethod
    def load(cls, path: Path) -> ToneModel | None:
        try:
            data = np.load(path, allow_pickle=False)
            return cls(
                str(data["embedder_id"]),
                data["mean"],
                data["scale"],
                data["weights"],
                float(data["bias"]),
                float(data["threshold"]),
                int(data["buckets"]) if "buckets" in data else 0,
            )
        except (OSError, KeyError, ValueError):
            return None

    def save(self, path: Path) -> None:
        np.savez(
            path,
            embedder_id=np.array(self.embedder_id),
            mean=self.mean,
            scale=self.scale,
            weights=self.weights,
            bias=np.array(self.bias),
            threshold=np.array(self.threshold),
            buckets=np.array(self.buckets),
        )

    @staticmethod
    def features(vector: np.ndarray, text: str, buckets: int) -> np.ndarray:
        """The embedding, then which hashed character 1–3-grams the text holds (crc32: the same on every machine)."""
        if not buckets:
            return np.asarray(vector, dtype=np.float32)
        grams = np.zeros(buckets, dtype=np.float32)
        text = text.strip()
        for n in (1, 2, 3):
            for i in range(len(text) - n + 1):
                grams[zlib.crc32(text[i : i + n].encode("utf-8")) % buckets] = 1.0
        return np.concatenate([np.asarray(vector, dtype=np.float32), grams])

    def probability(self, vector: np.ndarray, text: str = "") -> float:
        x = self.features(vector, text, self.buckets)
        z = float(((x - self.mean) / self.scale) @ self.weights + self.bias)
        return 1.0 / (1.0 + float(np.exp(-z)))

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        texts: list[str],
        rude: np.ndarray,
        embedder_id: str,
        buckets: int = 2048,
        l2: float = 1.0,
        threshold: float = 0.7,
    ) -> ToneModel:
        """Class-weighted logistic regression by gradient descent (no extra dependency). The features
        and `l2` were chosen by leaving each dev batch out in turn: with the character grams, rude
        replies found 0.90 (embedding alone 0.88), other replies flagged 0.003 (0.012)."""
        features = np.stack([cls.features(v, t, buckets) for v, t in zip(vectors, texts, strict=True)])
        mean, scale = features.mean(0), features.std(0) + 1e-6
        x = (features - mean) / scale
        y = rude.astype(np.float64)
        weight = np.where(rude, 0.5 / max(y.mean(), 1e-6), 0.5 / max(1 - y.mean(), 1e-6))
        w, b = np.zeros(x.shape[1]), 0.0
        for _ in range(2000):
            p = 1 / (1 + np.exp(-(x @ w + b)))
            g = (p - y) * weight
            w -= 0.5 * (x.T @ g / len(y) + l2 * w / len(y))
            b -= 0.5 * float(g.mean())
        return cls(embedder_id, mean.astype(np.float32), scale.astype(np.float32), w.astype(np.float32), b, threshold, buckets)


@dataclass(frozen=True)
class ReplyFamilies:
    """Which scenario family a trainee's reply answers: a softmax regression over the reply's
    embedding and its character n-grams (the scenario recogniser's model, here over replies),
    trained on our recommended replies and the dev split's honest and mediocre replies by
    `kefu-mentor train-tone --model relevance`; tied to its embedder.

    Cosine margins between whole-scenario vectors separate scenarios by a few hundredths, so a
    concrete, correct reply sometimes read as another family; a model that learned what replies
    of each family say separates them better (figures from leaving dev batches out: rubric.yaml,
    `relevance`)."""

    embedder_id: str
    model: ScenarioModel
    # The family each recommended reply reads as ("template id#turn" → family), worked out at
    # training so that grading never embeds a recommended reply on the way.
    read_as: dict[str, str] = field(default_factory=dict)

    def probability(self, vector: np.ndarray, text: str, *families: str) -> float:
        """How likely the reply answers a buyer of the likeliest of `families` (0 for families the
        model never saw); one reading of the reply serves them all."""
        return max((s.confidence for s in self.model.predict(vector, text) if s.family in families), default=0.0)

    @classmethod
    def fit(
        cls, vectors: np.ndarray, texts: list[str], families: list[str], embedder_id: str, keys: list[str] | None = None
    ) -> ReplyFamilies:
        """`keys` name the first rows that are recommended replies ("template id#turn"); the
        family the model reads each of them as is kept in `read_as`."""
        model = ScenarioModel.train(vectors, texts, families)
        keys = keys or []
        read_as = {key: model.predict(vectors[row], texts[row])[0].family for row, key in enumerate(keys)}
        return cls(embedder_id, model, read_as)

    @classmethod
    def load(cls, path: Path) -> ReplyFamilies | None:
        try:
            with np.load(path, allow_pickle=False) as data:
                embedder_id = str(data["embedder_id"])
                keys = [str(k) for k in data["read_keys"]] if "read_keys" in data.files else []
                values = [str(v) for v in data["read_as"]] if "read_as" in data.files else []
            return cls(embedder_id, ScenarioModel.load(path), dict(zip(keys, values, strict=True)))
        except (OSError, KeyError, ValueError):
            return None

    def save(self, path: Path) -> None:
        self.model.save(
            path,
            embedder_id=self.embedder_id,
            read_keys=list(self.read_as),
            read_as=list(self.read_as.values()),
        )


class DrillCoach:
    """Picks scenarios and grades replies: relevant to this buyer, the scenario's key points, in
    sentences, polite, and never crossing a red line.

    Args:
        scenarios: every drill opening (`load_scenarios`).
        rubric: the rubric data (`corpus/drills/rubric.yaml`).
        embedder: embeds the trainee's reply.
        chunks: the index's passages, for the basis each item cites.
        references: a vector per template id for its whole scenario (the index's own vector of
            the template passage, see `scenario_vectors`); embedded here when not given.
        seed: for a repeatable order of drills.
        tone: the tone model (`corpus/drills/tone.npz`), used when it was trained with `embedder`.
        conduct: the same kind of model for polite replies that break a platform rule
            (`corpus/drills/conduct.npz`), a net under the rubric's listed red lines.
        reply_families: which family a reply answers (`corpus/drills/relevance.npz`); without it (or
            for another embedder) relevance is the cosine margin between scenario vectors.
    """

    def __init__(
        self,
        scenarios: list[Scenario],
        rubric: Rubric,
        embedder: Embedder,
        chunks: list[Chunk],
        seed: int | None = None,
        references: dict[str, np.ndarray] | None = None,
        tone: ToneModel | None = None,
        conduct: ToneModel | None = None,
        reply_families: ReplyFamilies | None = None,
    ):
        if not scenarios:
            raise CorpusError("corpus/templates", None, "没有任何话术模板，无法进行情景演练", "先在 corpus/templates/ 中添加话术")
        self.scenarios = scenarios
        self.rubric = rubric
        self.embedder = embedder
        self.chunks = chunks
        self._random = random.Random(seed)
        self._basis_cache: dict[tuple[str, str], Basis | None] = {}
        self._templates = list({s.template_id: s for s in scenarios}.values())
        self._references = references
        self._tokenizer = Tokenizer()
        self._idf: dict[str, float] | None = None
        self._matrix: tuple[dict[str, int], np.ndarray, np.ndarray] | None = None
        self._words: dict[str, dict[str, float]] = {}  # key words per template id and turn
        self._turn_vectors: dict[str, np.ndarray] = {}
        self._answering: dict[str, frozenset[str]] = {}  # per template id and turn
        self.tone = tone if tone is not None and tone.embedder_id == embedder.id else None
        self.conduct = conduct if conduct is not None and conduct.embedder_id == embedder.id else None
        # Not `families`: that is the method listing the drill families.
        self.reply_families = reply_families if reply_families is not None and reply_families.embedder_id == embedder.id else None

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

    def scenario_basis(self, scenario: Scenario) -> Basis | None:
        """The scenario's own section (book or card), else the template itself."""
        own = self.basis({"toc": scenario.toc})
        if own:
            return own
        template = next((c for c in self.chunks if c.source == "template" and c.reply == scenario.reply), None)
        if template is None:
            return None
        return Basis(SOURCE_LABELS["template"], template.title, template.page, scenario.reply[:160], template.toc_id)

    # -- the parts of a grade ------------------------------------------------------------------
    def _reference_matrix(self) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """(row per template id, family per row, one vector per row), built once."""
        if self._matrix is None:
            if self._references is None:
                texts = [f"场景：{t.scenario}\n买家：{t.buyer_line}\n推荐回复：{t.reply}" for t in self._templates]
                vectors = self.embedder.embed_passages(texts)
                self._references = {t.template_id: v for t, v in zip(self._templates, vectors, strict=True)}
            kept = [t for t in self._templates if t.template_id in self._references]
            self._matrix = (
                {t.template_id: row for row, t in enumerate(kept)},
                np.array([t.family for t in kept]),
                np.stack([self._references[t.template_id] for t in kept]),
            )
        return self._matrix

    def relevance(self, scenario: Scenario, vector: np.ndarray) -> float:
        """How much closer the reply is to this scenario than to the closest scenario of another family."""
        rows, families, matrix = self._reference_matrix()
        if scenario.template_id not in rows:
            return 0.0
        sims = matrix @ vector
        own = float(sims[rows[scenario.template_id]])
        if scenario.turn > 1:  # the buyer has moved on: their new message and its reply count as this scenario too
            own = max(own, float(self._turn_reference(scenario) @ vector))
        others = sims[families != scenario.family]
        return own - float(others.max()) if len(others) else own

    def _answering_families(self, scenario: Scenario) -> frozenset[str]:
        """The families a good reply to this turn may read as: its own, and the one its recommended
        reply reads as. A 催付 buyer who asks whether the item can be returned is answered with a
        returns reply; the family model reads that as 退换货, and so would it read a good paraphrase."""
        key = f"{scenario.template_id}#{scenario.turn}"
        if key not in self._answering:
            read_as = self.reply_families.read_as.get(key)
            if read_as is None:  # a template the model was not trained with (an instructor's own)
                vector = self.embedder.embed_passages([scenario.reply])[0]
                read_as = self.reply_families.model.predict(vector, scenario.reply)[0].family
            self._answering[key] = frozenset((scenario.family, read_as))
        return self._answering[key]

    def _turn_reference(self, scenario: Scenario) -> np.ndarray:
        """A later turn's own reference vector (its buyer line and recommended reply), embedded once."""
        key = f"{scenario.template_id}#{scenario.turn}"
        if key not in self._turn_vectors:
            text = f"场景：{scenario.scenario}\n买家：{scenario.buyer_line}\n推荐回复：{scenario.reply}"
            self._turn_vectors[key] = self.embedder.embed_passages([text])[0]
        return self._turn_vectors[key]

    def _key_words(self, scenario: Scenario) -> dict[str, float]:
        """The recommended reply's own words, weighted by how specific they are to it (IDF over
        all replies); placeholders such as 【审核时效】 are the shop's to fill, not key points."""
        key = f"{scenario.template_id}#{scenario.turn}"  # each turn has its own recommended reply
        if key not in self._words:
            self._words[key] = self._specific_words(scenario.reply)
        return self._words[key]

    def _specific_words(self, reply: str) -> dict[str, float]:
        if self._idf is None:
            docs = [set(self._tokenizer.tokenize(_PLACEHOLDER.sub(" ", t.reply))) for t in self._templates]
            df: dict[str, int] = {}
            for doc in docs:
                for w in doc:
                    df[w] = df.get(w, 0) + 1
            n = len(docs)
            self._idf = {w: float(np.log((n + 1) / (c + 0.5))) for w, c in df.items()}
        words = {w for w in self._tokenizer.tokenize(_PLACEHOLDER.sub(" ", reply)) if len(w) >= 2}
        cap = float(self.rubric.key_points.get("common_df", 0.25)) * len(self._templates)
        floor = float(np.log((len(self._templates) + 1) / (cap + 0.5)))
        return {w: self._idf.get(w, 0.0) for w in words if self._idf.get(w, 0.0) > floor}

    def key_points(self, scenario: Scenario, reply: str) -> tuple[float, list[str], list[str]]:
        """Weighted share of the scenario's key words in the reply (a synonym counts), found and missing."""
        words = self._key_words(scenario)
        if not words:
            return 1.0, [], []
        tokens = set(self._tokenizer.tokenize(reply))
        found, missing, got = [], [], 0.0
        for word, weight in sorted(words.items(), key=lambda kv: -kv[1]):
            alternatives = {word, *self._tokenizer.expand([word])}
            if any(a in reply or a in tokens for a in alternatives):
                found.append(word)
                got += weight
            else:
                missing.append(word)
        return got / sum(words.values()), found, missing

    def _avoid_phrases(self, scenario: Scenario) -> list[str]:
        """What the scenario's own 不要这样说 quotes as the thing not to say."""
        # Four characters at least: a short quote ("不能查") is also part of polite sentences ("不能查看").
        return [p.strip("，。！？ ") for p in _QUOTED.findall(scenario.avoid or "") if len(p.strip("，。！？ ")) >= 4]

    def grade(self, scenario: Scenario, reply: str) -> Grade:
        reply = (reply or "").strip()
        r = self.rubric
        points = {k: float(v) for k, v in r.points.items()}
        own_basis = self.scenario_basis(scenario)
        items: list[RubricItem] = []

        # 1. Relevant to this buyer, judged against every other family's scenarios.
        vector = self.embedder.embed_passages([reply or "（空）"])[0]
        margin = self.relevance(scenario, vector) if reply else -1.0
        low, high = float(r.relevance["low"]), float(r.relevance["high"])
        share = _saturating(max(0.0, (margin - low) / (high - low)))
        if self.reply_families is not None:
            likely = self.reply_families.probability(vector, reply, *self._answering_families(scenario)) if reply else 0.0
            family_share = _saturating(likely / float(r.relevance["family_full"]))
            # A second turn's buyer has moved on (差评 → 拉链坏了怎么处理): what the reply answers
            # may be another family's business, so its own reference vector still counts there.
            share = max(share, family_share) if scenario.turn > 1 else family_share
        relevant = share >= 0.5
        items.append(
            RubricItem(
                "relevance",
                "回应了这位买家的问题",
                "relevance",
                relevant,
                share * points["relevance"],
                "和这个场景的推荐做法最接近"
                if share >= 0.99
                else ("大体在回应这个场景" if relevant else "更像是在回答别的场景的问题，没有回应买家这句话"),
                own_basis,
            )
        )
        # 2. The scenario's own key points, from its recommended reply.
        coverage, found, missing = self.key_points(scenario, reply)
        full = float(r.key_points["full"])
        kp_share = _saturating(coverage / full)
        items.append(
            RubricItem(
                "key_points",
                "讲到了这个场景的要点",
                "key_points",
                kp_share >= 0.5,
                kp_share * points["key_points"],
                (f"讲到了：{'、'.join(found[:6])}" if found else "没有讲到推荐回复里的要点")
                + (f"；还可以讲：{'、'.join(missing[:4])}" if missing and kp_share < 1 else ""),
                own_basis,
            )
        )
        # 3. Courtesy and the next step the family asks for (greeting, empathy, solution …).
        required = r.required_for(scenario.family)
        share_each = points["courtesy"] / max(1, len(required))
        for key in required:
            spec = r.elements[key]
            hit = _matches(reply, spec)
            items.append(
                RubricItem(
                    key,
                    spec["label"],
                    "required",
                    hit is not None,
                    share_each if hit else 0.0,
                    f"出现了“{hit}”" if hit else "回复中没有找到",
                    self.basis(spec.get("basis")) or own_basis,
                )
            )
        # 4. Form: whole sentences addressed to the buyer, not a word list.
        sentences, why_form = sentence_like(reply) if reply else (False, "没有写回复")
        items.append(
            RubricItem(
                "form",
                "用完整的句子回复买家",
                "form",
                sentences,
                points["reply"] if sentences else 0.0,
                why_form,
                self.basis(r.form.get("basis")),
            )
        )
        # A curt reply ("好的，请稍等") may point the right way but leaves the buyer to ask again.
        short_share = float(r.form.get("short_share", 0.0))
        own_length, model_length = _length(reply), _length(scenario.reply)
        thorough = own_length >= short_share * model_length
        items.append(
            RubricItem(
                "thorough",
                "把话说完整，不只一句应付",
                "form",
                thorough,
                0.0,
                f"{own_length} 字" + ("" if thorough else f"，推荐回复有 {model_length} 字：原因、你会怎么做、下一步都没说清"),
                self.basis(r.elements.get("next_step", {}).get("basis")),
            )
        )
        # 5. Red lines: the rubric's, and this scenario's own 不要这样说.
        crossed = []
        for key, spec in r.forbidden.items():
            hit = _matches(reply, spec)
            items.append(
                RubricItem(
                    key,
                    spec["label"],
                    "forbidden",
                    hit is None,
                    0.0,
                    f"出现了“{hit}”" if hit else "没有出现",
                    self.basis(spec.get("basis")),
                )
            )
            if hit:
                crossed.append(spec["label"])
        if self.tone is not None:
            p = self.tone.probability(vector, reply) if reply else 0.0
            # A model with character grams reads sarcasm behind 您 and 亲; the embedding alone needed
            # the reply to hold no courteous word at all before it called it rude.
            harsh = p >= self.tone.threshold and (self.tone.buckets > 0 or not _COURTESY.search(reply))
            label = "语气不耐烦、讽刺或指责买家"
            says = f"语气模型判断这样说让买家不舒服的可能性为 {p:.0%}" if harsh else "语气没有问题"
            items.append(
                RubricItem("tone", label, "forbidden", not harsh, 0.0, says, self.basis(r.forbidden.get("rude", {}).get("basis")))
            )
            if harsh:
                crossed.append(label)
        if self.conduct is not None:
            # Rule-breaking replies take more shapes than any list of phrases (a promise, a side
            # deal, another buyer's details …); the model reads what the listed red lines miss.
            p = self.conduct.probability(vector, reply) if reply else 0.0
            breaks = p >= self.conduct.threshold
            label = r.conduct.get("label", "像是违反平台规则或职业底线的说法")
            says = f"违规模型判断这样说违反平台规则或职业底线的可能性为 {p:.0%}，请对照平台规则再看一遍" if breaks else "没有发现"
            items.append(RubricItem("conduct", label, "forbidden", not breaks, 0.0, says, self.basis(r.conduct.get("basis"))))
            if breaks:
                crossed.append(label)
        avoid_hit = next((p for p in self._avoid_phrases(scenario) if p in reply), None)
        items.append(
            RubricItem(
                "avoid",
                "本场景“不要这样说”里点名的说法",
                "forbidden",
                avoid_hit is None,
                0.0,
                f"出现了“{avoid_hit}”（{scenario.avoid}）" if avoid_hit else "没有出现",
                own_basis,
            )
        )
        if avoid_hit:
            crossed.append("本场景不要这样说的话")

        score = sum(i.points for i in items)
        if not sentences:
            score *= float(r.form["factor"])
        if not thorough:
            score = min(score, float(r.form.get("short_cap", 100.0)))
        off_topic = not relevant and kp_share < float(r.relevance.get("escape", "inf"))
        if off_topic or (thorough and kp_share < float(r.relevance.get("none_below", 0.0))):
            # Polite, whole and well formed, but about another buyer's question: no more than 答非所问.
            # A curt reply that names nothing is already held down by the short cap; capping it
            # again would tie it with replies to the wrong buyer, which it is better than.
            score = min(score, float(r.relevance.get("off_topic_cap", 100.0)))
        if crossed:
            # Scaled, not clipped: every reply that crosses a red line ends at or under the cap, and a
            # polite one that slipped still ranks above a rude one that also lectures the buyer.
            score = score * float(r.points["red_line_cap"]) / 100
        score = round(max(0.0, min(100.0, score)), 1)
        return Grade(scenario, reply, score, tuple(items), self._advice(items, crossed, missing), margin)

    @staticmethod
    def _advice(items: list[RubricItem], crossed: list[str], missing_points: list[str]) -> str:
        """The one thing to fix first."""
        by_key = {i.key: i for i in items}
        if crossed:
            return f"{crossed[0]}——这是红线，碰到了其他地方写得再好也只能得低分。"
        if not by_key["form"].passed:
            return "用完整的句子回复买家：先回应他的问题，再说你会怎么做、他接下来要做什么。"
        if not by_key["relevance"].passed:
            return "先回应买家这句话本身：你的回复更像是在回答另一个场景。"
        if not by_key["thorough"].passed:
            return "回复太简短：把原因、你会怎么帮他、他接下来要做什么都说清楚，别让买家再追问。"
        if not by_key["key_points"].passed:
            return "把这个场景的要点讲到：" + "、".join(missing_points[:4])
        missing = [i.label for i in items if i.kind == "required" and not i.passed]
        if missing:
            return f"再补上：{missing[0]}。"
        return "这条回复已经很好，可以对照推荐回复看看还有哪里可以更贴心。"


def _length(text: str) -> int:
    """Characters a reader reads: no spaces."""
    return len(re.sub(r"\s", "", text or ""))


def _saturating(x: float, knee: float = 0.9) -> float:
    """x up to the knee, then rising ever more slowly towards 1: past "enough", being closer still
    counts a little (the recommended reply itself over a good paraphrase), instead of a flat 1."""
    if x <= knee:
        return x
    return knee + (1 - knee) * (1 - float(np.exp(-(x - knee) / (1 - knee))))


def scenario_vectors(chunks: list[Chunk], store_vectors, scenarios: list[Scenario]) -> dict[str, np.ndarray]:
    """Each template's vector as the index holds it (its passage: scenario, buyer lines, reply, why),
    so grading needs no extra embedding. `store_vectors(i)` gives the first vector of chunk i."""
    by_reply = {s.reply: s.template_id for s in scenarios}
    out = {}
    for i, chunk in enumerate(chunks):
        if chunk.source == "template" and chunk.reply in by_reply:
            vector = store_vectors(i)
            if vector is not None:
                out[by_reply[chunk.reply]] = np.asarray(vector, dtype=np.float32)
    return out


@dataclass
class DrillSummary:
    """Scores per scenario family over a session."""

    scores: dict[str, list[float]] = field(default_factory=dict)

    def add(self, grade: Grade) -> None:
        self.scores.setdefault(grade.scenario.family, []).append(grade.score)

    def rows(self) -> list[tuple[str, int, float, float]]:
        return [(family, len(v), sum(v) / len(v), max(v)) for family, v in sorted(self.scores.items())]


TONE_FILE = "tone.npz"
CONDUCT_FILE = "conduct.npz"
RELEVANCE_FILE = "relevance.npz"


def coach_for(mentor, corpus_dir: Path, seed: int | None = None) -> DrillCoach:
    """The grader for a loaded `Mentor`: its embedder, passages and template vectors, the rubric and
    the tone model from `corpus_dir/drills/`."""
    scenarios = load_scenarios(corpus_dir)
    drills = Path(corpus_dir) / "drills"
    return DrillCoach(
        scenarios,
        Rubric.load(drills / "rubric.yaml"),
        mentor.embedder,
        mentor.chunks,
        seed=seed,
        references=scenario_vectors(mentor.chunks, mentor.store.chunk_vector, scenarios),
        tone=ToneModel.load(drills / TONE_FILE),
        conduct=ToneModel.load(drills / CONDUCT_FILE),
        reply_families=ReplyFamilies.load(drills / RELEVANCE_FILE),
    )
