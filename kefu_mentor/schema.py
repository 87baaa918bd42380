"""Data types that cross pipeline stages: small, frozen, typed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Who wrote a passage: the book, us (cards and reply templates), or an instructor (uploads).
SOURCE_LABELS = {"textbook": "教材原文", "supplement": "补充资料", "template": "话术模板", "teacher": "教师资料"}
SOURCE_TYPES = tuple(SOURCE_LABELS)


@dataclass(frozen=True)
class Section:
    """A run of body text under one heading path, as read from a corpus file."""

    source: str
    toc_id: str
    breadcrumb: tuple[str, ...]
    page: int | None
    text: str
    file: str
    line: int
    # Template-only fields: the buyer's ways of saying it, the reply to send, its scenario family.
    buyer_says: tuple[str, ...] = ()
    reply: str | None = None
    family: str | None = None
    # Book sections and cards: how learners describe situations this section answers (our writing,
    # from corpus/situations/; searched, never shown).
    asks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """The unit that is embedded, indexed and cited."""

    chunk_id: str
    source: str
    toc_id: str
    breadcrumb: tuple[str, ...]
    page: int | None
    text: str
    file: str
    line: int
    buyer_says: tuple[str, ...] = ()
    reply: str | None = None
    family: str | None = None  # templates only: the scenario family, e.g. 议价
    # A topic passage's parts, each with its own headings: searched as extra vectors.
    pieces: tuple[str, ...] = ()
    # Learners' descriptions of situations this passage answers (see `Section.asks`).
    asks: tuple[str, ...] = ()
    # For a topic passage, the sub-heading path (below `breadcrumb`) of the section each of `asks`
    # describes, "" for the topic as a whole: a situation matched on one names the part to quote.
    # Empty when every ask is about the whole passage.
    ask_parts: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return " › ".join(self.breadcrumb)

    @property
    def is_prompt(self) -> bool:
        """The book's exercise or discussion prompt: it asks questions and answers none. Our own
        exercise and discussion cards carry 答题要点 (their answers), so they are not prompts."""
        return self.source == "textbook" and self.toc_id.endswith(("-exercises", "-discuss"))

    def embedding_texts(self) -> list[str]:
        """Texts whose vectors all point at this chunk.

        The breadcrumb is prepended so a passage that says "针对该规则……" is still found
        by the rule's name. A template is also reachable by each way a buyer says it.
        """
        views = [f"{self.title}\n{self.text}", *self.pieces, *self.asks]
        views.extend(f"{self.breadcrumb[-1]}：{said}" for said in self.buyer_says)
        return views

    def to_json(self) -> dict:
        data = asdict(self)
        data["breadcrumb"] = list(self.breadcrumb)
        data["buyer_says"] = list(self.buyer_says)
        data["pieces"] = list(self.pieces)
        data["asks"] = list(self.asks)
        data["ask_parts"] = list(self.ask_parts)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Chunk:
        data = dict(data)
        data["breadcrumb"] = tuple(data["breadcrumb"])
        data["buyer_says"] = tuple(data.get("buyer_says", ()))
        data["pieces"] = tuple(data.get("pieces", ()))
        data["asks"] = tuple(data.get("asks", ()))
        data["ask_parts"] = tuple(data.get("ask_parts", ()))
        return cls(**data)


@dataclass(frozen=True)
class Citation:
    """One cited passage in an answer."""

    rank: int
    chunk_id: str
    source: str
    title: str  # the passage's breadcrumb as one string ("模块一 … › 三、交易安全")
    page: int | None
    text: str
    score: float  # `Hit.score`: the ranker's belief (0-1), or the fused score without a ranker
    toc_id: str = ""
    reply: str | None = None
    family: str | None = None  # templates only
    # Sentences of `text` quoted in the answer, for highlighting.
    quoted: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)

    def to_json(self) -> dict:
        """The stable JSON shape of the CLI contract."""
        return {
            "rank": self.rank,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "breadcrumb": self.title,
            "page": self.page,
            "text": self.text,
            "score": round(float(self.score), 6),
        }


@dataclass(frozen=True)
class Answer:
    """What `Mentor.ask` returns."""

    question: str
    answer: str
    citations: tuple[Citation, ...]
    abstained: bool
    latency_ms: float
    # The text actually searched (after follow-up resolution and clean-up).
    resolved_query: str = ""
    # Nearest sections offered when the mentor abstains.
    suggestions: tuple[str, ...] = ()
    notices: tuple[str, ...] = field(default_factory=tuple)
    confidence: float = 0.0
    # A buyer message's recognised scenario (scenario.Scenario), None for a learner's question.
    scenario: object | None = None
    # The earlier question this one was read together with (a follow-up such as "那情节严重呢？"), or "".
    follow_up_of: str = ""
    # Other scenario families a buyer message may belong to, most likely first (their templates follow).
    alternatives: tuple = ()

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "abstained": self.abstained,
            "answer": self.answer,
            "citations": [c.to_json() for c in self.citations],
            "latency_ms": round(self.latency_ms, 2),
            "suggestions": list(self.suggestions),
            "notices": list(self.notices),
            "follow_up_of": self.follow_up_of or None,
            "scenario": (
                {"family": self.scenario.family, "confidence": round(float(self.scenario.confidence), 3)}
                if self.scenario is not None
                else None
            ),
            "alternatives": [{"family": s.family, "confidence": round(float(s.confidence), 3)} for s in self.alternatives],
        }
