"""The public entry point: `Mentor.load(...)` then `mentor.ask(question, history=[...])`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import CorpusError, QuestionError
from ..schema import SOURCE_TYPES, Answer, Chunk
from .answer import AbstentionRule, asks_live_fact, at_the_assistant, calibration_entry, compose, refusal, rule_of
from .embedding import Embedder, load_embedder
from .index import IndexStore, ensure_index, load_index
from .retrieval import Hit, HybridRetriever, Query, Ranker
from .scenario import OTHER
from .text import Tokenizer, clean_text, has_meaningful_text, strip_markup, to_simplified
from .toc import TableOfContents

log = logging.getLogger(__name__)


def check_question(question: object, max_chars: int) -> tuple[str, tuple[str, ...]]:
    """Clean a user's question, or say precisely why it cannot be answered.

    Returns:
        (the question to search, notices for the user).

    Raises:
        QuestionError: not text, empty, or no letters or characters at all.
    """
    if not isinstance(question, str):
        raise QuestionError("问题应该是一段文字。请输入你想问的内容，例如“泄露买家信息会被扣几分？”")
    cleaned = clean_text(question)
    if not cleaned:
        raise QuestionError("问题是空的。请输入你想问的内容，例如“客服分为哪几类？”")
    if not has_meaningful_text(cleaned):
        raise QuestionError("问题里只有符号或表情，没有文字。请用文字描述你的问题，例如“买家催发货怎么回复？”")
    notices: tuple[str, ...] = ()
    if len(cleaned) > max_chars:
        cleaned = cleaned[:max_chars]
        notices = (f"问题太长（{len(question)} 个字符），只按前 {max_chars} 个字符作答。可以把问题缩短后再问一次。",)
    return cleaned, notices


def search_form(text: str) -> str:
    """What is searched for a question or an earlier turn: normalised, markup dropped, simplified.

    One function for `Mentor.ask` and the evaluation, so the golden set measures what users get.
    """
    return to_simplified(strip_markup(clean_text(text)))


class Mentor:
    """Answers questions from one index with cited passages, or abstains.

    Thread-safe: the index is read-only and the embedder serialises its own calls.
    """

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        settings: Settings,
        rule: AbstentionRule | None = None,
        tokenizer: Tokenizer | None = None,
        ranker: Ranker | None = None,
    ):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        # What was learned on dev for this embedder, read once for both (`with_settings` passes them on).
        learned = calibration_entry(settings.calibration_path, embedder.id) if rule is None or ranker is None else {}
        if ranker is None:
            ranker = Ranker.from_json(learned.get("ranker"))
            if learned.get("ranker") and ranker is None:  # the features changed since it was trained: say so
                log.warning("排序模型是用另一组特征训练的，已停用；请运行 kefu-mentor eval --split dev --train-ranker 重新训练")
        self.retriever = HybridRetriever(store, embedder, tokenizer or Tokenizer(), settings, ranker)
        self.rule = rule or rule_of(learned)
        # The book's table of contents answers "在第几页 / 哪一节 / 模块六有哪几个任务"; without
        # a readable toc.yaml those questions get the passages alone.
        try:
            self.toc: TableOfContents | None = TableOfContents.load(settings.corpus_dir / "toc.yaml")
        except CorpusError:
            self.toc = None

    @property
    def chunks(self) -> list[Chunk]:
        """Every indexed passage, in index order."""
        return self.store.chunks

    @property
    def manifest(self) -> dict:
        """The index manifest: corpus digest, embedder, chunker settings, counts, build time."""
        return self.store.manifest

    def with_settings(self, settings: Settings, rule: AbstentionRule | None = None, ranker: Ranker | None = None) -> Mentor:
        """The same index and embedder under other settings (ablations, benchmarks)."""
        return Mentor(
            self.store,
            self.embedder,
            settings,
            rule=rule or self.rule,
            tokenizer=self.retriever.tokenizer,
            ranker=ranker or self.retriever.ranker,
        )

    @classmethod
    def load(
        cls,
        index_dir: str | Path = "index",
        settings: Settings | None = None,
        *,
        rebuild: bool = False,
        notify: Callable[[str], None] | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> Mentor:
        """Load the index in `index_dir`.

        Args:
            index_dir: the index directory.
            settings: paths and knobs; `index_dir` overrides its index path.
            rebuild: rebuild first when the index is missing, stale, foreign or damaged.
            notify: told (in Chinese) when a rebuild happens and why.

        Raises:
            IndexUnavailable: the index cannot be used (and `rebuild` is off or impossible).
        """
        settings = (settings or Settings()).with_(index_dir=index_dir)
        store = ensure_index(settings, progress=progress, notify=notify) if rebuild else load_index(settings)
        embedder = load_embedder(store.embedder_id)
        return cls(store, embedder, settings)

    def search(
        self,
        question: str,
        history: list[str] | None = None,
        *,
        k: int | None = None,
        sources: tuple[str, ...] | list[str] | None = None,
    ) -> tuple[Query, list[Hit], tuple[str, ...]]:
        """The ranked hits for a question, before abstention and composition.

        Returns:
            (the query searched, the top `k` hits, notices for the user).

        Raises:
            QuestionError: the question is empty or has no text, or `sources` is invalid.
        """
        query, vector, notices = self.read(question, history)
        k = max(1, int(k or self.settings.top_k))
        if sources is not None:
            unknown = [s for s in sources if s not in SOURCE_TYPES]
            if unknown:
                raise QuestionError(f"未知的资料类型：{', '.join(map(str, unknown))}。可选：{'、'.join(SOURCE_TYPES)}")
            if not sources:
                raise QuestionError("没有选择任何资料类型。请至少勾选教材、补充资料或话术中的一种。")
        return query, self.retriever.search(query, k, tuple(sources) if sources else None, vector), notices

    def read(self, question: str, history: list[str] | None = None) -> tuple[Query, np.ndarray, tuple[str, ...]]:
        """The question as it is searched: checked, normalised, read with the previous turns,
        embedded and, for a buyer's words, its scenario recognised; with notices for the user.

        Raises:
            QuestionError: the question is empty or has no text.
        """
        text, notices = check_question(question, self.settings.max_question_chars)
        if self.store.stale_reason:
            notices = (self.store.stale_reason, *notices)
        clean_history = [
            search_form(h)[: self.settings.max_question_chars] for h in (history or []) if isinstance(h, str) and clean_text(h)
        ]
        query = self.retriever.prepare(search_form(text), clean_history)
        vector = self.retriever.embed(query)
        return self.retriever.recognise(query, vector), vector, notices

    def in_known_scenario(self, query: Query) -> bool:
        """Whether `query` reads as a buyer's words in a recognised scenario, which is never refused.

        A buyer's own message gets its family's template (`none`, a thanks or an OK, a closing
        one) unless the recogniser finds `other` likely (`Settings.buyer_other_max`); a learner
        quoting a buyer only when the quoted family is sure enough (`Settings.scenario_keep`).
        """
        scenario = query.scenario
        if not scenario or scenario.family == OTHER:
            return False
        if query.buyer_voice:
            return query.unmatched < self.settings.buyer_other_max
        return scenario.confidence >= self.settings.scenario_keep

    def decided_by(self, question: str, query: Query, hits: list[Hit]) -> str:
        """What decides whether this question is answered, in this order:

        - "assistant": words aimed at the assistant's own instructions are about nothing in the
          material, even when they read like a buyer's message of a known scenario (refused);
        - "known": a buyer's message of a known scenario (`in_known_scenario`, answered);
        - "live": a learner's question about one shop's or one day's facts, in no passage however
          many words they share (`answer.asks_live_fact`, refused);
        - "placed": a passage in the very part of the book the question names ("任务一的任务实践题目
          叫什么") answers it, however few of its words it shares (answered);
        - "rule": the refusal rule calibrated on dev (`AbstentionRule`).
        """
        if at_the_assistant(question):
            return "assistant"
        if self.in_known_scenario(query):
            return "known"
        if asks_live_fact(query.asked or query.text):
            return "live"
        if hits and hits[0].placed:
            return "placed"
        return "rule"

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        *,
        top_k: int | None = None,
        sources: tuple[str, ...] | list[str] | None = None,
    ) -> Answer:
        """Answer one question.

        Args:
            question: what the user typed.
            history: the user's earlier questions in this conversation, oldest first.
            top_k: how many passages to cite (default `settings.top_k`).
            sources: which source types to search (default: all).

        Raises:
            QuestionError: the question is empty or has no text.
        """
        started = time.perf_counter()
        query, hits, notices = self.search(question, history, k=top_k, sources=sources)
        confidence = self.rule.confidence(hits)
        # The scenario the answer was routed by: any for a buyer's own message, a quoted buyer's
        # only from `scenario_min` (below it the quote changes nothing).
        scenario = query.scenario
        if scenario and not query.buyer_voice and scenario.confidence < self.settings.scenario_min:
            scenario = None
        earlier = [h for h in (history or []) if isinstance(h, str) and h.strip()]
        follow_up_of = earlier[-1][:200] if query.is_follow_up and earlier else ""
        decided = self.decided_by(question, query, hits)
        if decided in REFUSED_BY or (decided == "rule" and self.rule.abstains(hits)):
            answer_text, suggestions = refusal(hits, self.settings.suggest_min_coverage, query.text, decided == "live")
            return Answer(
                question,
                answer_text,
                (),
                True,
                _ms(started),
                query.text,
                suggestions,
                notices,
                confidence,
                scenario,
                follow_up_of,
            )
        answer_text, citations = compose(self.retriever.lexicon, query, hits, self.toc)
        return Answer(
            question,
            answer_text,
            tuple(citations),
            False,
            _ms(started),
            query.text,
            (),
            notices,
            confidence,
            scenario,
            follow_up_of,
            query.alternatives,
        )


# What `Mentor.decided_by` says for a question refused whatever passage is near.
REFUSED_BY = frozenset(("assistant", "live"))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
