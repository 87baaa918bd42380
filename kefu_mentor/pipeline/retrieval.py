"""Hybrid retrieval: dense (FAISS, cosine) + BM25 (jieba), fused by reciprocal rank."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..config import Settings
from ..schema import Chunk
from .embedding import Embedder
from .index import IndexStore, bm25_document
from .scenario import NONE, OTHER, Scenario, template_family
from .structure import BOOK_PLACE_WORDS, Place, place_named
from .text import Tokenizer, TrigramUnits, char_trigrams

# A pasted buyer message talks to the shop ("你们…", "我的快递…"); a learner's question talks
# about the buyer or the subject ("买家说…怎么办", "什么是询单转化率"). Only the first wants
# a reply template first.
# Someone other than the writer: a learner tells what a buyer, a stranger or "someone" did ("有陌生人发来
# 一个压缩包让我解压看看"); a buyer writes about their own order. (有人 only before what a person does
# to the writer, perhaps after where: "有人在旺旺上发了个文件"; 有人在吗 is a buyer's greeting.) Only a
# buyer's quoted words route to reply templates.
_ABOUT_BUYER = re.compile(r"买家|顾客|客户|客人|消费者|卖家|商家|店铺|学生|教材|老师|课本|模块|任务")
_ABOUT_SOMEONE = re.compile(
    _ABOUT_BUYER.pattern + r"|陌生人|有个人|对方|那个人|这个人|有人(?:在[^，,。？?！!\s]{1,8}?)?(?=发|加|说|让|给|私|自称|冒充)"
)
_EXAM_FORMATS = r"单选|多选|选择题|填空|判断题|简述|简答|名词解释|论述"
_STUDY_CUE = re.compile(
    r"什么是|是什么|含义|定义|包括|包含|哪些|哪几|如何|怎样|怎么做|怎么办|怎么处理|怎么回|怎么说|怎么算|计算|公式|有什么区别|作用|特征|优点|缺点|"
    r"原则|技巧|方法|步骤|流程|意义|特点|优缺点|为什么要|要不要|该不该|能不能.*吗.*客服|扣.{0,2}分|处罚|规则|后果|"
    # Where in the book: no buyer asks a shop for a page or a section.
    + BOOK_PLACE_WORDS
    + "|"
    + _EXAM_FORMATS
)

# A learner asking for the words to send: a reply template is what they want.
_WANTS_REPLY = re.compile(r"怎么回|咋回|如何回|怎样回|怎么说|咋说|怎么答|怎么讲|话术|回复|回他|回她|回答|说什么|说啥")
# A question about the book's exercises or discussion prompts themselves.
_ABOUT_PROMPTS = re.compile(r"练习|习题|题目|讨论|填空|选择题|简答|思考")
# An exam question's own format label ("名词解释：KPI", "简答：…") says how to answer: its words are
# in no answer, so they are not searched by word nor counted in what a passage covers.
_FORMAT_LABEL = re.compile(rf"^\s*(?:{_EXAM_FORMATS})题?\s*[：:]")

# Words that open a follow-up ("那情节严重呢？", "还有呢", "其中第二种…", "她们当时…").
_FOLLOW_UP_CUE = re.compile(
    r"^(那|那么|那如果|如果|要是|还有|另外|另一个|其他|其它|它|这个|这种|那个|那种|上面|刚才|再|同样|反过来|然后|所以|为啥|为什么|"
    r"其中|你说的|刚说的|刚才说的|这些|那些|这[一两二三四五六七八九几]|他们|她们|它们|他|她)"
)
_PRONOUN_CUE = re.compile(r"这个|这种|那个|那种|它|他|她|这些|那些|他们|她们|它们")
# A reference back by position ("第三点", "第二种") or a short "…呢" cannot stand alone either.
_POSITION_REF = re.compile(r"第[一二三四五六七八九十\d]+[种个点项类条步招方面]")
_SHORT_NE = re.compile(r"^.{1,14}呢[？?！!。]*$")


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the evidence behind its rank."""

    index: int  # position in the index (for caches keyed by chunk)
    chunk: Chunk
    # What the order rests on: the learned ranker's belief (0-1) that the passage answers a
    # learner's question when a ranker is loaded, otherwise the fused (RRF) score.
    score: float
    dense: float  # best cosine over the chunk's vectors
    bm25: float
    coverage: float  # IDF-weighted share of the query's words found in the chunk
    placed: bool = False  # lies in the part of the book the question names ("任务一的任务实践")
    # The part of a topic passage the query is nearest to (its best piece, without the
    # heading line), or "" when the passage has no pieces: the answer quotes from it first.
    focus: str = ""
    # Another piece as near to the query as `focus` (`Settings.focus_close`), or "": quoted too.
    also: str = ""


@dataclass(frozen=True)
class Query:
    """A question ready to search: the text to embed and the tokens for BM25."""

    text: str
    tokens: tuple[str, ...]
    is_follow_up: bool
    buyer_voice: bool = False  # reads like a message pasted from a buyer
    wants_reply: bool = False  # a learner asking what to say to a buyer
    scenario: Scenario | None = None  # a buyer message's recognised scenario family
    # Other families a buyer message may belong to, most likely first (`Settings.scenario_alternatives`):
    # their best templates follow the first family's, so a misread message still finds its reply.
    alternatives: tuple[Scenario, ...] = ()
    # The recogniser's share for `other` (no family covers it): how likely the message is
    # something the templates do not answer at all.
    unmatched: float = 0.0
    place: Place = Place()  # the module, task or part of the book the question names
    # A follow-up's own words, without the previous turn that `text` carries ("" otherwise): the
    # ranker's character trigrams read what was just asked.
    asked: str = ""


# What the learned ranker reads of each candidate passage, all relative to the question's best
# so that one weight fits every question. The learned weights live beside the refusal rule
# (`Settings.calibration_path`, one entry per embedder; `kefu-mentor eval --split dev --train-ranker`),
# and an entry whose feature names differ from these is ignored, never misread.
RANK_FEATURES = (
    "fused_rank",  # log(1 + how many passages the fused (RRF) score puts above it)
    "pooled",  # the dense score ranking uses (own words, or pooled situation phrasings), less the best
    "own",  # its own words' best cosine, less the best passage's
    "phrasing",  # its single nearest situation phrasing, less the best (without phrasings: as "own")
    "bm25",  # BM25 score as a share of the best
    "coverage",  # IDF-weighted share of the question's words it holds
    "placed",  # lies in the part of the book the question names
    "prompt",  # the book's exercise or discussion prompt
    "card",  # our knowledge card (not the book)
    "template",  # a reply template
    "parts",  # log(1 + parts its phrasings describe): a topic of many parts is near many questions
    "length",  # log(1 + characters)
    "phrasing_card",  # phrasing x card: a card is found by its phrasings more than the book is
    "own_card",  # own x card
    "parts_pooled",  # parts x pooled: how far a many-part topic's lead can be trusted
    "chars",  # share of the question's character trigrams in its title and text
    "chars_gap",  # chars, less the best candidate's
    "piece_chars",  # trigram Dice of the question and its nearest piece (title, sentence, list item)
    "piece_chars_gap",  # piece_chars, less the best candidate's
    "asks_chars",  # trigram Dice of the question and its nearest situation phrasings (mean of the best `phrasing_pool`)
    "asks_chars_gap",  # asks_chars, less the best candidate's
    "mapped",  # as "pooled", for the question's vector mapped by the query adapter (`adapter.py`)
    "mapped_own",  # as "own", for the mapped vector
)


@dataclass(frozen=True)
class Ranker:
    """A logistic model over `RANK_FEATURES` that reorders the best fused candidates.

    Fusion by reciprocal rank weighs every signal by hand; this learns from the dev questions'
    answer keys how much each signal says that a passage answers, including the hub effect of
    a topic with many parts. On dev, each fold ranked by a ranker learned without it, the keyed
    passage's MRR@10 among the candidates goes 0.679 (fused order) → 0.775 (284 dev questions, one fold
    assignment); `kefu-mentor eval --split dev --train-ranker` prints these figures and stores them
    with the weights.
    """

    weights: tuple[float, ...]  # on raw feature values (the standardisation folded in)
    bias: float
    depth: int = 30  # how many fused candidates it reorders

    def score(self, features: np.ndarray) -> np.ndarray:
        return features @ np.asarray(self.weights) + self.bias

    def to_json(self) -> dict:
        return {
            "features": list(RANK_FEATURES),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "depth": self.depth,
        }

    @classmethod
    def from_json(cls, entry: dict | None) -> Ranker | None:
        """The ranker in a calibration entry, or None when there is none or it was learned on other features."""
        if not entry or tuple(entry.get("features", ())) != RANK_FEATURES:
            return None
        return cls(tuple(float(w) for w in entry["weights"]), float(entry["bias"]), int(entry.get("depth", 30)))


@dataclass(frozen=True)
class Scored:
    """Every chunk's evidence for one query, before the final order: what `search` ranks and
    what the ranker's features are read from."""

    fused: np.ndarray
    pooled: np.ndarray  # dense score for ranking (`HybridRetriever._phrasings_pooled`)
    dense: np.ndarray  # best cosine over each chunk's searched vectors (as `Hit.dense`)
    bm25: np.ndarray
    row_score: np.ndarray  # each vector row's cosine (-1 where not searched)
    own: np.ndarray  # best cosine over each chunk's own words (title, text, pieces); -1 where not allowed
    placed: np.ndarray
    allowed: np.ndarray
    # The same as `pooled` and `own` for the question's vector mapped by the query adapter (the
    # plain ones when the index has no adapter or the view is off).
    mapped: np.ndarray
    mapped_own: np.ndarray


def placed_first(score: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """The order of candidates by `score`, best first, with those inside a part of the book the
    question names ahead of the rest (how `HybridRetriever.search` orders the ranker's candidates)."""
    return np.lexsort((-score, ~placed.astype(bool)))


class Lexicon:
    """The word statistics of one index: IDF, synonym expansion and each chunk's sentences.

    What composition needs from the index, without the retriever. Read-only after build,
    except a per-chunk sentence cache (filled once per chunk; a race only recomputes).
    """

    def __init__(self, chunks: list[Chunk], tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.doc_tokens = [set(tokenizer.tokenize(bm25_document(c))) for c in chunks]
        n_docs = len(chunks)
        doc_freq: dict[str, int] = {}
        for tokens in self.doc_tokens:
            for token in tokens:
                doc_freq[token] = doc_freq.get(token, 0) + 1
        self._idf = {t: math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) for t, df in doc_freq.items()}
        # A word no chunk contains is as informative as the rarest word.
        self._unknown_idf = math.log(1 + (n_docs + 0.5) / 0.5)
        self._sentences: dict[int, tuple[tuple[str, frozenset[str]], ...]] = {}
        self._piece_words: dict[int, frozenset[str]] = {}

    def idf(self, token: str) -> float:
        return self._idf.get(token, self._unknown_idf)

    def expand(self, tokens: list[str]) -> list[str]:
        return self.tokenizer.expand(tokens)

    def coverage(self, query_tokens: tuple[str, ...], index: int) -> float:
        """IDF-weighted share of the query's words that chunk `index` contains (0 to 1)."""
        return self.share(query_tokens, self.doc_tokens[index])

    def share(self, query_tokens: tuple[str, ...], words: set[str] | frozenset[str]) -> float:
        """IDF-weighted share of the query's words found in `words` (0 to 1)."""
        query = set(query_tokens)
        total = sum(self.idf(t) for t in query)
        return sum(self.idf(t) for t in query if t in words) / total if total else 0.0

    def piece_words(self, row: int, text: str) -> frozenset[str]:
        """The words of the piece at vector row `row` (its `text`), cached."""
        words = self._piece_words.get(row)
        if words is None:
            words = self._piece_words[row] = frozenset(self.tokenizer.tokenize(text))
        return words

    def sentences(self, hit: Hit, split: Callable[[Chunk], list[str]]) -> tuple[tuple[str, frozenset[str]], ...]:
        """The hit's candidate sentences (as `split` cuts them) with their tokens, cached."""
        cached = self._sentences.get(hit.index)
        if cached is None:
            cached = tuple((s, frozenset(self.tokenizer.tokenize(s))) for s in split(hit.chunk))
            self._sentences[hit.index] = cached
        return cached


class HybridRetriever:
    """Searches one loaded index. Safe to share across threads (read-only state)."""

    def __init__(
        self, store: IndexStore, embedder: Embedder, tokenizer: Tokenizer, settings: Settings, ranker: Ranker | None = None
    ):
        self.store = store
        self.ranker = ranker
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.settings = settings
        self.lexicon = Lexicon(store.chunks, tokenizer)
        self._sources = np.array([c.source for c in store.chunks])
        self._text_keys = [re.sub(r"\s+", "", c.text) for c in store.chunks]
        self._is_template = self._sources == "template"
        self._families = np.array([c.family or "" for c in store.chunks])
        # Each vector row's kind, chunk by chunk in the order the index writes them: the chunk's own
        # words (title + text, then its pieces), the situation phrasings pointing at it, and a
        # template's buyer phrasings last (only a buyer's own message should match on those).
        # Each situation phrasing row also gets its part: one sub-section of a book topic
        # (`Chunk.ask_parts`) or the whole passage; phrasings are pooled per part (`_phrasings_pooled`).
        buyer_rows, content_rows, part_rows = [], [], []
        part_chunk: list[int] = []
        for i, chunk in enumerate(store.chunks):
            n_views = len(chunk.embedding_texts())
            n_own = 1 + len(chunk.pieces)
            buyer_rows += [False] * (n_views - len(chunk.buyer_says)) + [True] * len(chunk.buyer_says)
            content_rows += [True] * n_own + [False] * (n_views - n_own)
            ids: dict[str, int] = {}
            asks = []
            for part in chunk.ask_parts or ("",) * len(chunk.asks):
                if part not in ids:
                    ids[part] = len(part_chunk)
                    part_chunk.append(i)
                asks.append(ids[part])
            part_rows += [-1] * n_own + asks + [-1] * len(chunk.buyer_says)
        self._row_chunk = np.asarray(store.rows)
        laid_out = len(buyer_rows) == len(self._row_chunk)
        self._buyer_row = np.array(buyer_rows if laid_out else [False] * len(self._row_chunk), dtype=bool)
        self._content_row = np.array(content_rows if laid_out else [True] * len(self._row_chunk), dtype=bool)
        self._phrasing_row = ~self._content_row & ~self._buyer_row
        self._phrasing_part = np.array(part_rows if laid_out else [-1] * len(self._row_chunk), dtype=np.int64)
        self._part_chunk = np.array(part_chunk, dtype=np.int64)
        # Each chunk's piece rows (they follow its own row), to find the part a query matched.
        self._piece_rows: dict[int, np.ndarray] = {}
        # Per topic chunk: the parts its situation phrasings describe (phrasing rows, piece rows).
        self._ask_pieces: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        row_chunks = self._row_chunk
        if laid_out and bool(np.all(np.diff(row_chunks) >= 0)):
            first = np.searchsorted(row_chunks, np.arange(len(store.chunks)))
            for i, chunk in enumerate(store.chunks):
                if not chunk.pieces:
                    continue
                rows = first[i] + 1 + np.arange(len(chunk.pieces))
                if rows[-1] < len(row_chunks) and bool(np.all(row_chunks[rows] == i)):
                    self._piece_rows[i] = rows
                    self._ask_pieces[i] = _ask_pieces(chunk, rows)
        # Exercises and discussion prompts ask questions; they should not stand in for answers.
        self._is_prompt = np.array([c.is_prompt for c in store.chunks], dtype=bool)
        self._log_parts = np.log1p(np.bincount(self._part_chunk, minlength=len(store.chunks))).astype(np.float64)
        self._log_length = np.log1p([len(c.text) for c in store.chunks]).astype(np.float64)
        # Per chunk, the trigram groups the ranker compares the question with: its title and text
        # as one, its small units (title, pieces) one by one, its situation phrasings one by one.
        self._trigrams = TrigramUnits()
        self._trigram_groups = [
            (self._trigrams.add([f"{c.title}{c.text}"]), self._trigrams.add([c.title, *c.pieces]), self._trigrams.add(c.asks))
            for c in store.chunks
        ]

    def prepare(self, question: str, history: list[str] | None = None) -> Query:
        """Resolve a follow-up against the previous turn, then tokenise."""
        tokens = self._searched_words(question)
        history = [h for h in (history or []) if h and h.strip()]
        # Only a cue word or a near-empty question borrows from the last turn: "客服分为哪几类"
        # (three words) stands on its own even in the middle of a conversation.
        stripped = question.strip()
        buyer = is_buyer_voice(question)
        cue = _FOLLOW_UP_CUE.match(stripped)
        # A message pasted from a buyer stands on its own ("你们是不是骗子" after "衣服小了能换麽" is a
        # new message, not a question about the size exchange): only an explicit cue makes it a
        # follow-up, and after another buyer message a pronoun is not one (buyers say "这个有货吗"
        # about the product; a learner's "她们当时为什么这么做" still refers back).
        if buyer and cue and history and is_buyer_voice(history[-1]) and _PRONOUN_CUE.fullmatch(cue.group(0)):
            cue = None
        follow_up = bool(history) and (
            (len(tokens) <= 2 and not buyer)
            or bool(cue)
            or bool(_POSITION_REF.search(stripped))
            or bool(_SHORT_NE.match(stripped))
        )
        if follow_up:
            previous = history[-1]
            previous_tokens = [t for t in self._searched_words(previous) if t not in tokens]
            text = f"{previous} {question}"
            return Query(
                text,
                tuple(tokens + previous_tokens),
                True,
                is_buyer_voice(previous),
                bool(_WANTS_REPLY.search(text)),
                place=place_named(question) or place_named(previous),
                asked=question,
            )
        return Query(
            question,
            tuple(tokens),
            False,
            is_buyer_voice(question),
            bool(_WANTS_REPLY.search(question)),
            place=place_named(question),
        )

    def _searched_words(self, text: str) -> list[str]:
        """The words a question is searched by: its exam label (名词解释：, 简答：…) is no word of
        any answer, in the question asked and in the previous turn a follow-up borrows from."""
        return self.tokenizer.tokenize(_FORMAT_LABEL.sub("", text))

    def coverage(self, query_tokens: tuple[str, ...], index: int) -> float:
        return self.lexicon.coverage(query_tokens, index)

    def embed(self, query: Query) -> np.ndarray:
        return self.embedder.embed_queries([query.text])

    def recognise(self, query: Query, vector: np.ndarray) -> Query:
        """The query with its buyer scenario recognised, where it has one.

        A buyer's own message gets the recogniser's best family, unless the recogniser finds it
        reads like a learner's situation ("下班了还想着售后单 咋调整": no study cue, but nobody's
        message to a shop). A learner's question that quotes
        a buyer ("买家说太贵了怎么回") gets the scenario of the quoted words, to route the
        templates, but stays a learner's question. (Reading a message with study cues as a
        buyer's whenever the recogniser is sure of a family was tried: on dev it moved exam
        questions such as "单选：七天无理由退货从何时起算" to templates for +1 point on buyer lines.)
        """
        model = self.store.scenario
        if model is None:
            return query
        if query.buyer_voice or could_be_buyer(query.text):
            learner, ranked = model.read(vector[0], query.text)
            if learner >= self.settings.learner_min:
                return replace(query, buyer_voice=False)
            best = ranked[0]
            # A message with a study cue ("过了质保坏了，怎么办", "换货 是怎么个流程") is a buyer's
            # when nothing in it is about the job or an exam and the recogniser reads a request
            # of a known family in it (dev real buyer lines: family@1 0.64 → 0.67, book slices unchanged).
            if not query.buyer_voice and (best.family in (OTHER, NONE) or best.confidence < self.settings.voice_min):
                return query
            n_alt = self.settings.scenario_alternatives if best.family != OTHER else 0  # `other` routes nothing
            alternatives = tuple(s for s in ranked[1:] if s.family != OTHER and s.confidence >= self.settings.scenario_alt_min)
            unmatched = next((s.confidence for s in ranked if s.family == OTHER), 0.0)
            return replace(query, buyer_voice=True, scenario=best, alternatives=alternatives[:n_alt], unmatched=unmatched)
        quoted = quoted_buyer_words(query.text)
        if quoted:
            return replace(query, scenario=model.read(self.embedder.embed_queries([quoted])[0], quoted)[1][0])
        return query

    def search(self, query: Query, k: int, sources: tuple[str, ...] | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        """The top `k` chunks for `query`, optionally only from some source types."""
        chunks = self.store.chunks
        scored = self._score(query, sources, vector)
        if scored is None:
            return []
        fused, dense, bm25, row_score, placed = scored.fused, scored.dense, scored.bm25, scored.row_score, scored.placed
        ranking = np.argsort(-fused)
        score = fused
        if self.ranker is not None and self.settings.rerank and not query.buyer_voice:
            # A buyer's own message keeps its routing (the ranker learned from learners' questions).
            candidates = self.candidates(scored, max(self.ranker.depth, k))
            # Ordered by the ranker's belief that a passage answers, except that the passages
            # inside a part of the book the question names come first: few dev questions name
            # one, so the ranker alone learns little of it (in a five-fold comparison on dev, all
            # book MRR 0.738 → 0.748; counting them `place_boost` times instead: 0.745).
            belief = 1.0 / (1.0 + np.exp(-self.ranker.score(self.rank_features(query, scored, candidates))))
            score = fused.copy()
            score[candidates] = belief
            first = placed_first(belief, placed[candidates])
            ranking = np.concatenate([candidates[first], ranking[~np.isin(ranking, candidates)]])
            scenario = query.scenario
            if query.wants_reply and scenario and scenario.family != OTHER and scenario.confidence >= self.settings.scenario_keep:
                # A learner asking what to reply to a buyer they quote, whose family is sure enough
                # that the question is never refused: that family's best template leads, as it
                # would for the buyer's own message, and the book's passages follow (the ranker
                # learned from few such questions and may put a card on the topic first).
                in_family = ranking[self._templates_of(scenario.family)[ranking] & scored.allowed[ranking]]
                if len(in_family):
                    ranking = np.concatenate([in_family[:1], ranking[ranking != in_family[0]]])
        # The same passage twice in the corpus (a copied file, a card repeating the book) is cited once.
        order, seen = [], set()
        for i in ranking:
            if fused[i] <= 0 or len(order) == k:
                break
            if self._text_keys[i] not in seen:
                seen.add(self._text_keys[i])
                order.append(i)
        order = self._with_nearest_content(order, query, scored.own, k)
        return [
            Hit(
                int(i),
                chunks[i],
                float(score[i]),
                float(dense[i]),
                float(bm25[i]),
                self.coverage(query.tokens, int(i)),
                bool(placed[i]),
                *self._focus_pair(int(i), row_score, query.tokens),
            )
            for i in order
        ]

    def features(self, query: Query, vector: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The candidates the ranker would reorder for `query` and their `RANK_FEATURES` (to train it)."""
        scored = self._score(query, None, vector)
        if scored is None:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(RANK_FEATURES)))
        candidates = self.candidates(scored, self.ranker.depth if self.ranker else Ranker.depth)
        return candidates, self.rank_features(query, scored, candidates)

    def candidates(self, scored: Scored, depth: int) -> np.ndarray:
        """The best `depth` passages by fused score, and the one nearest by its own words (which
        `Settings.content_slot` may cite) when the fused score has it at all."""
        order = np.argsort(-scored.fused)[:depth]
        order = order[scored.fused[order] > 0]
        nearest = int(np.argmax(scored.own))
        if scored.fused[nearest] > 0 and nearest not in order:
            order = np.append(order, nearest)
        return order.astype(np.int64)

    def rank_features(self, query: Query, scored: Scored, candidates: np.ndarray) -> np.ndarray:
        """`RANK_FEATURES` of each candidate (rows in the order of `candidates`)."""
        fused, pooled, bm25 = scored.fused, scored.pooled, scored.bm25
        own = scored.own
        phrasing = np.full(len(fused), -1.0, dtype=np.float32)
        rows = self._phrasing_row & (scored.row_score > -1.0)
        np.maximum.at(phrasing, self._row_chunk[rows], scored.row_score[rows])
        c = candidates
        fused_rank = np.log1p((fused[None, :] > fused[c, None]).sum(axis=1))
        top_pooled = pooled[scored.allowed].max()
        top_own = own.max()
        top_phrasing = phrasing.max()
        rel_pooled = pooled[c] - top_pooled
        rel_own = own[c] - top_own
        # A passage without situation phrasings (a reply template, an instructor's upload) is
        # described by its own words. A fixed -0.2 instead did as well on dev, but it put an
        # instructor's passage, for a question on their own material, 4th where fusion had it 2nd
        # (3rd this way).
        rel_phrasing = np.where(phrasing[c] > -1.0, phrasing[c] - top_phrasing, rel_own)
        card = (self._sources[c] == "supplement").astype(float)
        parts = self._log_parts[c]
        # Character trigrams see the question's own wording in a passage where jieba's words and
        # the embedding miss it (colloquial spellings, words cut differently): on dev, five-fold,
        # the keyed passage's MRR among the candidates 0.746 -> 0.767, modules 2-7 0.614 -> 0.637.
        # A follow-up's are its own words only (the previous turn's topic is in the vector and
        # BM25): dev follow-ups 0.728 -> 0.742, the rest unchanged.
        asked = char_trigrams(query.asked or query.text)
        mask, n_asked = self._trigrams.mask(asked), len(asked)
        groups = [self._trigram_groups[int(i)] for i in c]
        whole = [self._trigrams.overlaps(mask, g)[0] for g, _, _ in groups]
        chars = np.array([shared[0] / max(n_asked, 1) if len(shared) else 0.0 for shared in whole], dtype=np.float64)
        # The same trigrams against a passage's small units and against the situation phrasings
        # pointing at it, neither of which BM25 or `chars` see one by one: a question that
        # restates one sentence of a long passage, or says what a phrasing says in other
        # words than the embedding links. Dice, so that a long unit does not match everything.
        # On dev, five-fold over five fold assignments, the keyed passage's MRR among the
        # candidates 0.765 -> 0.790 (module 1 0.863 -> 0.885, modules 2-7 0.638 -> 0.677),
        # better in every assignment; either alone gave about +0.01.
        pool = self.settings.phrasing_pool
        piece = np.array([_dice(*self._trigrams.overlaps(mask, g), n_asked, 1) for _, g, _ in groups], dtype=np.float64)
        asks = np.array([_dice(*self._trigrams.overlaps(mask, g), n_asked, pool) for _, _, g in groups], dtype=np.float64)
        return np.column_stack(
            [
                fused_rank,
                rel_pooled,
                rel_own,
                rel_phrasing,
                bm25[c] / max(float(bm25.max()), 1e-9),
                [self.coverage(query.tokens, int(i)) for i in c],
                scored.placed[c],
                self._is_prompt[c],
                card,
                self._is_template[c],
                parts,
                self._log_length[c],
                rel_phrasing * card,
                rel_own * card,
                parts * rel_pooled,
                chars,
                _less_best(chars),
                piece,
                _less_best(piece),
                asks,
                _less_best(asks),
                scored.mapped[c] - scored.mapped[scored.allowed].max(),
                scored.mapped_own[c] - scored.mapped_own.max(),
            ]
        ).astype(np.float64)

    def _score(self, query: Query, sources: tuple[str, ...] | None, vector: np.ndarray | None) -> Scored | None:
        """Every chunk's dense, BM25 and fused evidence for `query` (None: no source allowed)."""
        chunks = self.store.chunks
        n_chunks = len(chunks)
        allowed = np.ones(n_chunks, dtype=bool) if not sources else np.isin(self._sources, list(sources))
        if not allowed.any():
            return None
        # Dense: best cosine over each chunk's vectors (a template has one per buyer phrasing).
        vector = self.embed(query) if vector is None else vector
        dense, row_score, ranked = self._dense_view(vector, query, allowed)
        # The second dense view: the question's vector mapped by the adapter learned from the
        # situation phrasings (`adapter.QueryAdapter`); a buyer's own message is routed instead.
        adapter = self.store.adapter
        if adapter is not None and self.settings.adapter_weight > 0 and not query.buyer_voice:
            _, mapped_rows, mapped = self._dense_view(adapter.map(vector), query, allowed)
            mapped_own = self._own_best(mapped_rows, allowed)
        else:
            mapped, mapped_own = ranked, None

        tokens = list(query.tokens)
        expanded = self.tokenizer.expand(tokens) if self.settings.synonyms else tokens
        # Off (weight 0, an ablation), BM25 is off for the ranker's features too.
        use_bm25 = bool(expanded) and self.settings.bm25_weight > 0
        bm25 = np.asarray(self.store.bm25.get_scores(expanded), dtype=np.float32) if use_bm25 else np.zeros(n_chunks, np.float32)
        bm25[~allowed] = 0.0

        fused = np.zeros(n_chunks, dtype=np.float64)
        depth = self.settings.candidates
        # Dense ranks are taken in one list across sources (`Settings.dense_per_source`): buyer
        # phrasings, the most colloquial vectors, only compete for a buyer's own message.
        authority = self.authority(query)
        groups = np.unique(self._sources[allowed]) if self.settings.dense_per_source else [None]
        views = [(ranked, self.settings.dense_weight)]
        if mapped_own is not None:
            views.append((mapped, self.settings.adapter_weight))
        for view, weight in views:
            for source in groups:
                in_source = np.flatnonzero(((self._sources == source) if source else allowed) & (view > -1.0))
                order = in_source[np.argsort(-view[in_source])][:depth]
                for rank, i in enumerate(order):
                    fused[i] += weight * authority[self._sources[i]] / (self.settings.rrf_k + rank + 1)
        bm25_order = [i for i in np.argsort(-bm25)[:depth] if bm25[i] > 0]
        bm25_weight = self.settings.bm25_weight
        if bm25_order and self.settings.lexical_trust > 0:
            # BM25 earns its vote when one of its best passages holds a real share of the
            # question's words (exam wording). A new agent's everyday words match the book only
            # by accident; then the dense ranking alone decides. On dev: module 1 R@1 0.64 → 0.75,
            # situations 0.34 → 0.52, exam wording 0.82 → 0.80, modules 2-7 MRR 0.34 → 0.33.
            # A soft gate (weight × (best / trust)^p) kept less than half the gain.
            best = max(self.coverage(query.tokens, int(i)) for i in bm25_order[:5])
            if best < self.settings.lexical_trust:
                bm25_weight = 0.0
        for rank, i in enumerate(bm25_order):
            fused[i] += bm25_weight * authority[self._sources[i]] / (self.settings.rrf_k + rank + 1)
        placed = np.zeros(n_chunks, dtype=bool)
        if query.place:
            placed = np.array([query.place.holds(c.breadcrumb) for c in chunks], dtype=bool)
            fused[placed] *= self.settings.place_boost
        if not asks_about_prompts(query):
            fused[self._is_prompt] *= self.settings.prompt_weight
        scenario = query.scenario
        if scenario and scenario.family != OTHER and query.buyer_voice:
            # A buyer's own message: the recognised family's best template comes first, then the
            # best of each likely alternative family, then everything else as ranked. `none`
            # (thanks, OK) routes to the closing templates.
            routed = []
            for s in (scenario, *query.alternatives):
                in_family = np.flatnonzero(self._templates_of(s.family) & allowed)
                if len(in_family):
                    routed.append(int(in_family[np.lexsort((dense[in_family], fused[in_family]))[-1]]))
            top = float(fused.max())
            for place, i in enumerate(routed):
                fused[i] = top + 1e-3 * (len(routed) - place)
        elif scenario and scenario.family != OTHER and scenario.confidence >= self.settings.scenario_min:
            # A learner quoting a buyer ("买家说太贵了怎么回"): the quoted words' family decides which
            # templates compete, among the other passages.
            in_family = self._templates_of(scenario.family)
            if in_family.any():
                fused[in_family] *= self.settings.scenario_boost
                fused[self._is_template & ~in_family] *= self.settings.scenario_other
        own = self._own_best(row_score, allowed)
        return Scored(
            fused, ranked, dense, bm25, row_score, own, placed, allowed, mapped, own if mapped_own is None else mapped_own
        )

    def _dense_view(self, vector: np.ndarray, query: Query, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(each chunk's best cosine, each row's cosine, the pooled score ranking uses) for one
        query vector; a template's buyer phrasings only count for a buyer's own message."""
        n_rows = self.store.dense.ntotal
        wanted = n_rows if n_rows <= 20_000 else min(n_rows, self.settings.candidates * 8)
        scores, rows = self.store.dense.search(vector, wanted)
        dense = np.full(len(self.store.chunks), -1.0, dtype=np.float32)
        row_score = np.full(n_rows, -1.0, dtype=np.float32)
        for score, row in zip(scores[0], rows[0], strict=True):
            if row < 0 or (self._buyer_row[row] and not query.buyer_voice):
                continue
            row_score[row] = score
            chunk = self.store.rows[row]
            if score > dense[chunk]:
                dense[chunk] = score
        dense[~allowed] = -1.0
        ranked = self._phrasings_pooled(row_score, dense)
        ranked[~allowed] = -1.0
        return dense, row_score, ranked

    def _own_best(self, row_score: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Each allowed chunk's best cosine by its own words (title, text, pieces; not the phrasings
        pointing at it), -1 elsewhere: the content slot's passage and two ranker features."""
        own = np.full(len(self.store.chunks), -1.0, dtype=np.float32)
        content = self._content_row & (row_score > -1.0)
        np.maximum.at(own, self._row_chunk[content], row_score[content])
        own[~allowed] = -1.0
        return own

    def _phrasings_pooled(self, row_score: np.ndarray, dense: np.ndarray) -> np.ndarray:
        """Each chunk's dense score for ranking: the best of its own rows (and of a template's buyer
        phrasings), or its best part's situation phrasings, pooled as the mean of their best
        `Settings.phrasing_pool` less the card margin, whichever is higher (see `Settings.phrasing_pool`)."""
        pool, margin = self.settings.phrasing_pool, self.settings.card_phrasing_margin
        if pool <= 1 and not margin:
            return dense.copy()
        out = np.full(len(dense), -1.0, dtype=np.float32)
        own = ~self._phrasing_row & (row_score > -1.0)  # own words, and a template's buyer phrasings
        np.maximum.at(out, self._row_chunk[own], row_score[own])
        rows = np.flatnonzero(self._phrasing_row & (row_score > -1.0))
        if len(rows):
            # Rows sorted by part, best first within a part; keep each part's first `pool`.
            part = self._phrasing_part[rows]
            rows = rows[np.lexsort((-row_score[rows], part))]
            part = self._phrasing_part[rows]
            rank = np.arange(len(rows)) - np.searchsorted(part, part)  # place within its part
            keep = rank < max(pool, 1)
            n_parts = len(self._part_chunk)
            total = np.bincount(part[keep], weights=row_score[rows[keep]], minlength=n_parts)
            count = np.bincount(part[keep], minlength=n_parts)
            has = np.flatnonzero(count)
            chunk = self._part_chunk[has]
            pooled = total[has] / count[has] - np.where(self._sources[chunk] == "textbook", 0.0, margin)
            np.maximum.at(out, chunk, pooled.astype(np.float32))
        return out

    def _with_nearest_content(self, order: list, query: Query, own: np.ndarray, k: int) -> list:
        """`order` with the chunk nearest to a learner's question by its own words placed at
        `Settings.content_slot` when it ranks lower or not at all (see there)."""
        slot = self.settings.content_slot
        if slot is None or slot >= k or query.buyer_voice or not order:
            return order
        best = int(np.argmax(own))
        key = self._text_keys[best]  # `order` holds one chunk per text: a copy of `best` counts as it
        if own[best] <= -1.0 or any(self._text_keys[i] == key for i in order[: slot + 1]):
            return order
        rest = [i for i in order if self._text_keys[i] != key]
        return (rest[:slot] + [best] + rest[slot:])[:k]

    def _templates_of(self, family: str) -> np.ndarray:
        """Which chunks are templates answering a recognised class (`none` → the closing ones)."""
        return self._is_template & (self._families == template_family(family))

    def _focus_pair(self, index: int, row_score: np.ndarray, tokens: tuple[str, ...] = ()) -> tuple[str, str]:
        """The text of the chunk's piece nearest to the query, and of its other piece nearest to the
        query when that one is within `Settings.focus_close` of it (or nearer: a part's phrasings
        chose the first), else "" (both "" without pieces).

        When the situation phrasings of one part of the passage are nearer to the query than any
        piece (pooled as for ranking), the first is that part's nearest piece: "买家老说光看图片心里没底"
        matches a phrasing of "3. 优化客户的购物体验", while by its words alone the passage's lead-in is nearest.
        """
        rows = self._piece_rows.get(index)
        if rows is None:
            return "", ""
        texts, scores = self._piece_scores(index, rows, row_score, tokens)  # every piece, once
        near = dict(zip(texts, scores.tolist(), strict=True))
        # A part's phrasings count as they do for ranking: the mean of their best `phrasing_pool`.
        chosen, nearest = rows, float(row_score[rows].max())
        for ask_rows, part_rows in self._ask_pieces.get(index, ()):
            pooled = float(np.sort(row_score[ask_rows])[::-1][: max(self.settings.phrasing_pool, 1)].mean())
            if pooled > nearest:
                nearest, chosen = pooled, part_rows
        best = max((int(row) for row in chosen), key=near.__getitem__)
        focus = texts[best]
        others = [(score, texts[row]) for row, score in near.items() if texts[row] != focus]
        if not focus or not others or self.settings.focus_close <= 0:
            return focus, ""
        score, text = max(others)
        return focus, text if near[best] - score <= self.settings.focus_close else ""

    def _piece_scores(
        self, index: int, rows: np.ndarray, row_score: np.ndarray, tokens: tuple[str, ...]
    ) -> tuple[dict[int, str], np.ndarray]:
        """The text of each piece at vector `rows` of chunk `index`, and how near each is to the
        query: its cosine plus `focus_words` × the share of the question's words it holds."""
        # A piece view is "breadcrumb\ntext"; the text is what the passage holds.
        pieces = self.store.chunks[index].pieces
        texts = {int(row): pieces[int(row - self._piece_rows[index][0])].split("\n", 1)[-1] for row in rows}
        scores = row_score[rows].astype(np.float64)
        if self.settings.focus_words and tokens:
            scores += self.settings.focus_words * np.array(
                [self.lexicon.share(tokens, self.lexicon.piece_words(row, text)) for row, text in texts.items()]
            )
        return texts, scores

    def authority(self, query: Query) -> dict[str, float]:
        """How much each source type counts for this question.

        A buyer's own message weighs every source alike. For a learner, book text and our cards
        count alike (a fixed lower card weight cost modules 2-7 more than it gained module 1 on
        dev), and reply templates compete fully only when the learner asks what to reply.
        """
        template = 1.0 if query.buyer_voice or query.wants_reply else self.settings.template_weight
        return {"textbook": 1.0, "supplement": 1.0, "teacher": 1.0, "template": template}


def _dice(shared: np.ndarray, sizes: np.ndarray, n_asked: int, pool: int) -> float:
    """Mean Dice overlap of the question (`n_asked` trigrams) with its best `pool` units, each
    sharing `shared` of its `sizes` trigrams (0 without units)."""
    if not len(sizes):
        return 0.0
    dice = 2 * shared / np.maximum(n_asked + sizes, 1)
    return float(np.sort(dice)[::-1][:pool].mean())


def _less_best(values: np.ndarray) -> np.ndarray:
    """Each value less the largest: a feature relative to the question's best candidate."""
    return values - (values.max() if len(values) else 0.0)


def _ask_pieces(chunk: Chunk, piece_rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """A topic passage's parts that situation phrasings describe: per part, the rows of its
    phrasings and the rows of its pieces (a piece view starts with its section's breadcrumb)."""
    first_ask = int(piece_rows[-1]) + 1
    parts: dict[str, list[int]] = {}
    for j, part in enumerate(chunk.ask_parts):
        if part:
            parts.setdefault(part, []).append(first_ask + j)
    out = []
    for part, ask_rows in parts.items():
        path = f"{chunk.title} › {part}"
        pieces = [r for r, view in zip(piece_rows, chunk.pieces, strict=True) if view.startswith((path + "\n", path + " › "))]
        if pieces:
            out.append((np.array(ask_rows, dtype=np.int64), np.array(pieces, dtype=np.int64)))
    return out


# A learner quoting a buyer: "买家说“能便宜点吗”怎么回", "顾客问能不能包邮，该怎么回复".
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{2,80})[”\"」』]")
_SAID = re.compile(
    r"(?:买家|顾客|客户|客人|消费者|对方)[^，。？?！!]{0,8}?(?:说|问|发来|发了|讲|表示|留言|来了句|要求)[：:，,\s]*"
    r"(?P<words>[^“”\"]{2,60}?)[，,。\s]*(?:我|客服|我们)?(?:该|应该|要|需要)?(?:怎么|如何|咋|怎样)(?:回|答|说|讲|办|处理|应对)"
)


def quoted_buyer_words(text: str) -> str | None:
    """The buyer's own words inside a learner's question about them, if it quotes any."""
    if not _ABOUT_BUYER.search(text):
        return None
    quoted = _QUOTED.search(text)
    if quoted:
        return quoted.group(1).strip()
    said = _SAID.search(text)
    return said.group("words").strip() if said else None


# A buyer asking about their own purchase ("我的地址写错了怎么办", "请问如何退货", "我想换货 流程是什么")
# uses the same 怎么办 / 如何 a learner does; what they ask about is theirs, and nothing in it
# is about the job (a new agent's "我刚入职…这些也是客服该干的吗").
_OWN_PURCHASE = re.compile(
    r"我的?[^，,。？?！!]{0,6}(订单|快递|包裹|货|东西|地址|退款|发票|商品|宝贝|衣服|裤子|鞋|耳机|手机|电脑)"
    r"|我(要|想|想要|需要)?(退货|换货|退款|申请退|申请换|退掉|换一)|^(请问)?(如何|怎么|怎样)(退货|换货|退款|申请退|申请换|确认收货|开发票|查)"
)
# (老师, 教材 … already make a message about someone else: `_ABOUT_SOMEONE`.)
_JOB = re.compile(r"客服|入职|上班|下班|主管|组长|同事|运营|千牛|后台|接待|话术|回复|回消息|培训|考核|考试|课")
_EXAM = re.compile(_EXAM_FORMATS + r"|什么是|含义|定义|___|（\s*）")


def asks_about_prompts(query: Query) -> bool:
    """True when the question is about the book's exercises or discussion prompts themselves
    ("思考与练习有哪些题"), not one to answer from the passages ("简答：…" is an exam question's label)."""
    return bool(_ABOUT_PROMPTS.search(_FORMAT_LABEL.sub("", query.text))) or query.place.part == "思考与练习"


def could_be_buyer(text: str) -> bool:
    """True when a message with a study cue may still be a buyer's own: nothing in it is about
    someone else, the job or an exam ("过了质保坏了，怎么办"); the recogniser then decides."""
    return not (_ABOUT_SOMEONE.search(text) or _JOB.search(text) or _EXAM.search(text))


def is_buyer_voice(text: str) -> bool:
    """True when `text` reads like a buyer's own message rather than a learner's question."""
    if _ABOUT_SOMEONE.search(text):
        return False
    if not _STUDY_CUE.search(text):
        return True
    return bool(_OWN_PURCHASE.search(text)) and could_be_buyer(text)
