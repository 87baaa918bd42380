"""`kefu-mentor eval`: blind golden questions with answer keys, ours versus the naive recipe.

A hit is judged on the answer as a user receives it: the k-th cited passage (breadcrumb and
text) must contain every group of the question's answer key, as an exam key would. The TOC
node of the passage is kept as a secondary, lenient column. The naive recipe is what a user
would otherwise pick: RecursiveCharacterTextSplitter (750/150) over the raw text, dense
retrieval only, same embedder, no abstention. Ablations switch one component off at a time.

Golden files (see eval/README.md):
- `eval/blind/*.yaml`: questions written blind by people who saw only the book text or the
  TOC; each in-scope question has `key`, out-of-scope ones `out_of_scope: true`.
- `eval/real/buyer_lines.yaml`: real buyer messages from public customer-service logs with
  their scenario families; the text is rebuilt from a local copy of the source corpus
  (`kefu-mentor eval-data`), since the corpora carry no licence.
- `eval/legacy/*.yaml`: the first release's own questions (written beside our cards), kept
  as a secondary slice with the old TOC-node matching.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from ..config import Settings
from ..errors import QuestionError
from ..pipeline.answer import AbstentionRule, load_calibration
from ..pipeline.corpus import load_corpus
from ..pipeline.embedding import EmbeddingCache, load_embedder
from ..pipeline.mentor import Mentor
from ..pipeline.retrieval import RANK_FEATURES, Ranker, placed_first
from ..pipeline.toc import TableOfContents
from ..schema import Chunk

PERSONAS = ("student", "agent", "instructor")
NONE_FAMILY = "none"  # thanks, fragments, chit-chat
OTHER_FAMILY = "other"  # a real request that no scenario family covers
EVAL_DIR = Path("eval")
REAL_TEXT = Path(".data/eval/buyer_lines.jsonl")
# A second, independent labelling of the real buyer lines (ids and labels only): how far the
# labels themselves can be trusted (`ceilings`).
SECOND_LABELS = EVAL_DIR / "real" / "second_labels.tsv"
# The naive recipe's 750-character chunks take the 4-bit embedder about 0.7 s each (~3 min for
# the corpus): their vectors ship here so a fresh clone's evaluation and notebook start from
# them (`kefu-mentor eval` refreshes the file; a changed chunk is simply embedded again).
NAIVE_VECTORS = EVAL_DIR / "naive_vectors.npz"
# Never refuse and always answer: the threshold no margin can fall below.
NO_ABSTENTION = AbstentionRule(slope=0.0, threshold=-math.inf)


def split_of(item_id: str) -> str:
    """dev or test, by a fixed hash of the id (about half each), never by hand."""
    return "dev" if int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


@dataclass(frozen=True)
class GoldenItem:
    """One golden question and what counts as a right answer to it."""

    id: str
    set: str  # m1 | m2to7 | safety | oos | buyer | own_buyer | legacy
    persona: str
    question: str
    style: str = ""  # exam | colloquial | lookup | follow-up | buyer
    history: tuple[str, ...] = ()
    # Answer key: every group must be matched by one of its alternatives.
    key: tuple[tuple[str, ...], ...] = ()
    tocs: tuple[str, ...] = ()
    heading: str | None = None  # legacy items only
    families: tuple[str, ...] = ()  # buyer lines: acceptable template families, or ("none",)
    source: str | None = None  # legacy: the source type a hit must have
    out_of_scope: bool = False
    kind: str = ""  # out-of-scope kind: chitchat | other-domain | near-domain

    @property
    def split(self) -> str:
        """dev or test, by a fixed hash of the id (about half each), never by hand."""
        return split_of(self.id)

    @property
    def is_buyer(self) -> bool:
        return bool(self.families)


@dataclass(frozen=True)
class Passage:
    """What the evaluation needs of one cited passage."""

    text: str  # breadcrumb and text
    toc_id: str
    source: str
    family: str | None = None


@dataclass(frozen=True)
class ItemResult:
    item: GoldenItem
    passages: tuple[Passage, ...]  # as delivered, best first (empty when refused)
    abstained: bool
    answer: str = ""
    scenario: str | None = None  # the recognised scenario family of a buyer message

    def rank(self, hit: Callable[[Passage], bool], depth: int = 10) -> int | None:
        for position, passage in enumerate(self.passages[:depth], 1):
            if hit(passage):
                return position
        return None


def normalise(text: str) -> str:
    """Comparison form for keys: NFKC, lower case, no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def key_matches(key: Sequence[Sequence[str]], text: str) -> bool:
    """True when `text` contains an alternative of every group of `key`."""
    if not key:
        return False
    flat = normalise(text)
    return all(any(normalise(alt) in flat for alt in group) for group in key)


# ---------------------------------------------------------------- loading


def _tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _key(value, where: str) -> tuple[tuple[str, ...], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(g, list) and g for g in value):
        raise ValueError(f'{where}: key 应是列表的列表，例如 [["6分"], ["48分"]]')
    return tuple(tuple(str(a) for a in group) for group in value)


def set_of(path: Path) -> str:
    """Which slice a golden file feeds, from its name."""
    stem = path.stem
    if path.parent.name == "legacy":
        return "own_buyer" if "buyer" in stem else "legacy"
    if path.parent.name == "real":
        return "buyer"
    for prefix in ("m1", "m2to7", "safety", "oos"):
        if stem.startswith(prefix):
            return prefix
    return stem


def load_golden(
    paths: Iterable[Path], toc: TableOfContents | None = None, real_text: dict[str, str] | None = None
) -> list[GoldenItem]:
    """Read golden YAML files (blind, real buyer lines and legacy formats).

    Real buyer lines without text in the file take it from `real_text` (id → text) and are
    left out when it has none.
    """
    items, seen = [], set()
    for path in paths:
        path = Path(path)
        group = set_of(path)
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            where = f"{path}: 题目 {raw.get('id')}"
            expect = raw.get("expect") if isinstance(raw.get("expect"), dict) else {}  # legacy form
            if raw.get("uncovered"):
                continue  # a coverage finding: no passage answers it (counted by `coverage_gaps`)
            question = raw.get("question", raw.get("text"))
            if question is None and real_text is not None:
                question = real_text.get(str(raw["id"]))
            if question is None:
                continue
            families = _tuple(raw.get("families"))
            item = GoldenItem(
                id=str(raw["id"]),
                set=group,
                persona=raw.get("persona", "agent" if families else "student"),
                question=str(question),
                style=raw.get("style", "buyer" if families else ""),
                history=_tuple(raw.get("history")),
                key=_key(raw.get("key"), where),
                tocs=_tuple(raw.get("toc", expect.get("toc"))),
                heading=expect.get("heading"),
                families=families,
                source=expect.get("source"),
                out_of_scope=bool(raw.get("out_of_scope")),
                kind=str(raw.get("kind", "")),
            )
            if item.id in seen:
                raise ValueError(f"{path}: 重复的题目 id {item.id}")
            seen.add(item.id)
            unknown = [t for t in item.tocs if toc is not None and t not in toc]
            if unknown:
                raise ValueError(f"{where}: toc “{'/'.join(unknown)}” 不在目录中")
            if not item.out_of_scope and not (item.key or item.families or item.tocs):
                raise ValueError(f"{where}: 缺少 key（答案要点）")
            items.append(item)
    return items


def coverage_gaps(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """Blind questions that no passage of the material answers: (id, why). A finding, not a test item."""
    gaps = []
    for path in paths:
        for raw in yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []:
            if raw.get("uncovered"):
                gaps.append((str(raw["id"]), f"{raw.get('question', '')} —— {raw.get('note', '')}"))
    return gaps


_PAGE = re.compile(r"第\s*(\d+)\s*页")


def page_lookups(mentor: Mentor, paths: Iterable[Path], split: str) -> list[tuple[str, bool]]:
    """Blind look-ups no passage answers because the answer is a page of the book (only the
    table of contents holds it): (id, whether the answer names the expected page)."""
    out = []
    for path in paths:
        for raw in yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []:
            page = _PAGE.search(str(raw.get("expect", "")))
            if not raw.get("uncovered") or not page or split not in ("all", split_of(str(raw["id"]))):
                continue
            answer = mentor.ask(str(raw["question"]), history=[str(h) for h in raw.get("history") or []])
            out.append((str(raw["id"]), page.group(1) in {m.group(1) for m in _PAGE.finditer(answer.answer)}))
    return out


def default_golden_paths(root: Path = EVAL_DIR) -> list[Path]:
    return (
        sorted((root / "blind").glob("*.yaml"))
        + sorted((root / "real").glob("*.yaml"))
        + sorted((root / "legacy").glob("*.yaml"))
    )


def read_real_text(path: Path = REAL_TEXT) -> dict[str, str]:
    """id → text of the real buyer lines rebuilt by `kefu-mentor eval-data` (empty when absent)."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out[row["id"]] = row["text"]
    return out


# ---------------------------------------------------------------- judging


def make_judge(item: GoldenItem, toc: TableOfContents) -> Callable[[Passage], bool]:
    """The strict test a cited passage must pass for this question."""
    if item.is_buyer:
        return lambda p: p.source == "template" and p.family in item.families
    if item.key:
        return lambda p: key_matches(item.key, p.text)
    # Legacy items: any passage in the expected TOC node (and heading, for book text).
    return lambda p: toc_judge(item, toc)(p) and (not item.heading or p.source != "textbook" or item.heading in p.text)


def toc_judge(item: GoldenItem, toc: TableOfContents) -> Callable[[Passage], bool]:
    """The lenient test: the passage lies in one of the expected TOC nodes."""

    def judge(p: Passage) -> bool:
        if item.source and p.source != item.source:
            return False
        return any(toc.is_within(p.toc_id, want) for want in item.tocs)

    return judge


# ---------------------------------------------------------------- systems


def ask_all(mentor: Mentor, items: Sequence[GoldenItem], depth: int = 10) -> list[ItemResult]:
    """Every question through `Mentor.ask`, exactly as a user would get the answer."""
    results = []
    for item in items:
        try:
            answer = mentor.ask(item.question, history=list(item.history), top_k=depth)
        except QuestionError as exc:  # the user sees this message and no passage
            results.append(ItemResult(item, (), True, str(exc)))
            continue
        passages = tuple(Passage(f"{c.title}\n{c.text}", c.toc_id, c.source, c.family) for c in answer.citations)
        scenario = answer.scenario.family if answer.scenario is not None else None
        results.append(ItemResult(item, passages, answer.abstained, answer.answer, scenario))
    return results


def read_vectors(path: Path, embedder_id: str, dim: int) -> tuple[list[str], np.ndarray]:
    """Texts and vectors saved by `write_vectors` for this embedder, or nothing."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["embedder"]) != embedder_id or data["vectors"].shape[1:] != (dim,):
                return [], np.zeros((0, dim), np.float32)
            return [str(t) for t in data["texts"]], data["vectors"].astype(np.float32)
    except (OSError, KeyError, ValueError):
        return [], np.zeros((0, dim), np.float32)


def write_vectors(path: Path, embedder_id: str, texts: list[str], vectors: np.ndarray) -> bool:
    """Save the naive recipe's vectors (0.4 MB compressed) when they differ from what is saved."""
    saved, _ = read_vectors(path, embedder_id, vectors.shape[1])
    if saved == list(texts):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, embedder=np.array(embedder_id), texts=np.array(texts), vectors=vectors.astype(np.float32))
    return True


class DefaultRecipe:
    """The naive recipe: 750/150 character chunks over the raw text, dense search only."""

    def __init__(self, settings: Settings, chunks: list[Chunk]):
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.embedder = load_embedder(settings.embedder)
        raw, spans = [], []
        offset = 0
        for chunk in chunks:
            piece = chunk.breadcrumb[-1] + "\n" + chunk.text + "\n\n"
            spans.append((offset, offset + len(piece), chunk))
            raw.append(piece)
            offset += len(piece)
        splitter = RecursiveCharacterTextSplitter(chunk_size=750, chunk_overlap=150, add_start_index=True)
        docs = splitter.create_documents(["".join(raw)])
        self.texts = [d.page_content for d in docs]
        # Where each naive chunk lies: the section it overlaps most (for the lenient column
        # and a template's family).
        self.owners: list[Chunk] = []
        for doc in docs:
            start = doc.metadata["start_index"]
            end = start + len(doc.page_content)
            best = max(spans, key=lambda s: min(end, s[1]) - max(start, s[0]))
            self.owners.append(best[2])
        cache = EmbeddingCache(settings.cache_dir, self.embedder.id, self.embedder.dim)
        if cache.missing(self.texts):
            cache.seed(*read_vectors(NAIVE_VECTORS, self.embedder.id, self.embedder.dim))
        self.vectors = cache.embed(self.texts, self.embedder.embed_passages)
        cache.save()

    def search(self, question: str, history: Sequence[str] = (), k: int = 10) -> list[int]:
        query = " ".join([*history[-1:], question])
        scores = self.vectors @ self.embedder.embed_queries([query])[0]
        return [int(i) for i in np.argsort(-scores)[:k]]

    def ask_all(self, items: Sequence[GoldenItem], depth: int = 10) -> list[ItemResult]:
        results = []
        for item in items:
            passages = []
            for i in self.search(item.question, item.history, depth):
                owner = self.owners[i]
                passages.append(Passage(self.texts[i], owner.toc_id, owner.source, owner.family))
            results.append(ItemResult(item, tuple(passages), abstained=False))
        return results


# Each ablation switches one component off; the name is what the report prints.
ABLATIONS: dict[str, dict] = {
    "无学习排序": {"rerank": False},
    "无查询映射": {"adapter_weight": 0.0},
    "无BM25": {"bm25_weight": 0.0},
    "无向量": {"dense_weight": 0.0, "rerank": False},  # the ranker reads mostly dense evidence
    "无同义词": {"synonyms": False},
    "无原文近邻位": {"content_slot": None},
    "情境句不池化": {"phrasing_pool": 1, "card_phrasing_margin": 0.0},
    "无拒答": {"abstention": False},
}


def ablated(mentor: Mentor, change: dict) -> Mentor:
    change = dict(change)
    rule = NO_ABSTENTION if change.pop("abstention", True) is False else mentor.rule
    return mentor.with_settings(replace(mentor.settings, **change), rule=rule)


# ---------------------------------------------------------------- metrics


def metrics(results: Sequence[ItemResult], toc: TableOfContents) -> dict[str, float | int | None]:
    """R@1, R@5, MRR@10, answer_hit, false refusal and the lenient TOC R@5 for in-scope items;
    the share refused for out-of-scope ones; family@1/@5 for buyer lines."""
    unscored = {NONE_FAMILY, OTHER_FAMILY}
    inscope = [r for r in results if not r.item.out_of_scope and not unscored & set(r.item.families)]
    oos = [r for r in results if r.item.out_of_scope]
    none_lines = [r for r in results if NONE_FAMILY in r.item.families]
    other_lines = [r for r in results if OTHER_FAMILY in r.item.families]
    out: dict[str, float | int | None] = {"n": len(inscope), "n_oos": len(oos), "n_none": len(none_lines) + len(other_lines)}
    if inscope:
        ranks = [r.rank(make_judge(r.item, toc)) for r in inscope]
        n = len(inscope)
        out["R@1"] = sum(k == 1 for k in ranks) / n
        out["R@5"] = sum(k is not None and k <= 5 for k in ranks) / n
        out["MRR@10"] = sum(1 / k for k in ranks if k) / n
        keyed = [r for r in inscope if r.item.key]
        out["answer_hit"] = (
            (sum(key_matches(r.item.key, r.answer) for r in keyed) / len(keyed))
            if keyed and any(r.answer for r in keyed)
            else None
        )
        # What answer_hit costs the reader: a longer answer holds the fact more often.
        answered = [len(r.answer) for r in keyed if not r.abstained]
        out["answer_chars"] = round(sum(answered) / len(answered)) if answered else None
        out["false_refusal"] = sum(r.abstained for r in inscope) / n
        tocced = [r for r in inscope if r.item.tocs and not r.item.is_buyer]
        out["toc_R@5"] = (sum(r.rank(toc_judge(r.item, toc), 5) is not None for r in tocced) / len(tocced)) if tocced else None
    if oos:
        out["oos_refused"] = sum(r.abstained for r in oos) / len(oos)
    buyers = [r for r in results if r.item.is_buyer]
    if buyers and any(r.scenario for r in buyers):
        # The recogniser alone: its first family is one of the labels (none/other included).
        out["scenario_acc"] = sum(r.scenario in r.item.families for r in buyers) / len(buyers)
    if none_lines:
        out["none_refused"] = sum(r.abstained for r in none_lines) / len(none_lines)
    if other_lines:
        out["other_refused"] = sum(r.abstained for r in other_lines) / len(other_lines)
    return out


# The learners' book questions: the all-book slice (with the out-of-scope ones) and what the
# refusal rule may refuse at most `MAX_BOOK_REFUSAL` of.
BOOK_SETS = ("m1", "m2to7", "safety")


def slices(results: Sequence[ItemResult]) -> dict[str, list[ItemResult]]:
    """The report's slices, in print order (empty ones left out)."""
    book = [r for r in results if r.item.set in (*BOOK_SETS, "oos")]
    table: dict[str, list[ItemResult]] = {
        "全部教材题": [r for r in book if r.item.set != "oos"] + [r for r in book if r.item.set == "oos"],
        "学生": [r for r in book if r.item.persona == "student" and not r.item.out_of_scope],
        "新客服": [r for r in book if r.item.persona == "agent" and not r.item.out_of_scope],
        "教师": [r for r in book if r.item.persona == "instructor" and not r.item.out_of_scope],
        "模块一": [r for r in results if r.item.set == "m1"],
        "模块二至七": [r for r in results if r.item.set == "m2to7"],
        "考试措辞": [r for r in book if r.item.style == "exam"],
        "口语情境": [r for r in book if r.item.style == "colloquial"],
        "教师查阅": [r for r in book if r.item.style == "lookup"],
        "追问": [r for r in book if r.item.history],
        "安全题": [r for r in results if r.item.set == "safety"],
        "超范围": [r for r in results if r.item.set == "oos"],
        "真实买家消息": [r for r in results if r.item.set == "buyer"],
        "自编买家消息(旧)": [r for r in results if r.item.set == "own_buyer"],
        "自编旧题(旧)": [r for r in results if r.item.set == "legacy"],
    }
    return {name: rows for name, rows in table.items() if rows}


@dataclass(frozen=True)
class Report:
    split: str
    n_items: int
    chunk_count: int
    embedder: str
    systems: dict[str, dict[str, dict]]  # system → slice → metrics
    skipped: tuple[str, ...] = ()
    ceilings: dict = field(default_factory=dict)  # `ceilings`: how far each stage could take us

    def to_json(self) -> dict:
        return {
            "split": self.split,
            "n_items": self.n_items,
            "chunk_count": self.chunk_count,
            "embedder": self.embedder,
            "systems": self.systems,
            "skipped": list(self.skipped),
            "ceilings": self.ceilings,
        }


def evaluate(
    mentor: Mentor,
    items: Sequence[GoldenItem],
    toc: TableOfContents,
    *,
    baseline: DefaultRecipe | None = None,
    ablations: bool = True,
    skipped: Sequence[str] = (),
) -> tuple[Report, dict[str, list[ItemResult]]]:
    """Run ours, the naive recipe and each ablation on the same items."""
    runs: dict[str, list[ItemResult]] = {"本系统": ask_all(mentor, items)}
    if baseline is not None:
        runs["朴素方案"] = baseline.ask_all(items)
    if ablations:
        for name, change in ABLATIONS.items():
            runs[name] = ask_all(ablated(mentor, change), items)
    systems = {name: {s: metrics(rows, toc) for s, rows in slices(results).items()} for name, results in runs.items()}
    split = ",".join(sorted({i.split for i in items}))
    report = Report(split, len(items), len(mentor.chunks), mentor.embedder.id, systems, tuple(skipped), ceilings(mentor, items))
    return report, runs


# ---------------------------------------------------------------- ceilings

# The book slices whose candidate recall `ceilings` reports, by what a question is.
CEILING_SLICES: dict[str, Callable[[GoldenItem], bool]] = {
    "全部教材题": lambda i: True,
    "模块一": lambda i: i.set == "m1",
    "模块二至七": lambda i: i.set == "m2to7",
    "口语情境": lambda i: i.style == "colloquial",
}


def ceilings(mentor: Mentor, items: Sequence[GoldenItem], second_labels: Path = SECOND_LABELS) -> dict:
    """How far each stage could take the answers if the next one were perfect, on these items.

    - `candidates`: per book slice, the share of keyed learner questions whose answering
      passage is among the candidates the ranker reorders (the R@1 a perfect reordering would
      reach), beside how many questions that is.
    - `recogniser`: on real buyer lines of a known family, the share whose family is among the
      recogniser's first 1 / 3 / 5 families (`other` left out): family@k if routing followed it.
    - `second_labeller`: the share of real buyer lines whose second, independent label
      (`eval/real/second_labels.tsv`) is one of the labels scored here: how far a person gets.
    - `out_of_scope`: how many out-of-scope questions read as a buyer's own message, and how
      many of those the recogniser puts in a known family surely enough that `Mentor.ask` never
      refuses them (issue #12's rule): the refusals out of scope that rule gives up.
    """
    out: dict = {}
    by_id = {item.id: item for item in items}
    examples = _ranker_examples(mentor, [i for i in items if i.set in ("m1", "m2to7", "safety")])
    for name, keep in CEILING_SLICES.items():
        found = [bool(meets.any()) for item_id, meets, _ in examples if keep(by_id[item_id])]
        if found:
            out.setdefault("candidates", {})[name] = {"n": len(found), "recall": sum(found) / len(found)}
    model = mentor.store.scenario
    known = [i for i in items if i.set == "buyer" and not {NONE_FAMILY, OTHER_FAMILY} & set(i.families)]
    if model is not None and known:
        within = {1: 0, 3: 0, 5: 0}
        for item in known:
            query, vector, _ = mentor.read(item.question)
            families = [s.family for s in model.read(vector[0], query.text)[1] if s.family != OTHER_FAMILY]
            for k in within:
                within[k] += bool(set(families[:k]) & set(item.families))
        out["recogniser"] = {"n": len(known), **{f"top{k}": n / len(known) for k, n in within.items()}}
    second = read_second_labels(second_labels)
    labelled = [i for i in items if i.set == "buyer" and i.id in second]
    if labelled:
        agree = sum(second[i.id][0] in i.families for i in labelled)
        out["second_labeller"] = {"n": len(labelled), "agreement": agree / len(labelled)}
    oos = [i for i in items if i.set == "oos"]
    if oos:
        reads = [mentor.read(i.question)[0] for i in oos]
        buyer = [q for q in reads if q.buyer_voice]
        family = [q for q in buyer if mentor.in_known_scenario(q)]
        out["out_of_scope"] = {"n": len(oos), "buyer_voice": len(buyer), "known_family": len(family)}
    return out


def read_second_labels(path: Path = SECOND_LABELS) -> dict[str, tuple[str, ...]]:
    """id → the second labeller's families (main label first), or nothing without the file."""
    if not Path(path).exists():
        return {}
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")
        if line.startswith("#") or len(cells) < 2 or cells[0] == "id" or not cells[1].strip():
            continue
        out[cells[0]] = tuple(f.strip() for f in cells[1].split(",") if f.strip())
    return out


def ceiling_lines(found: dict) -> list[str]:
    """The ceilings as Markdown list items (Chinese), for the report and the console."""
    lines = []
    for name, c in found.get("candidates", {}).items():
        lines.append(
            f"- {name}：排序模型重排的候选段落里含答案段落的比例 {c['recall']:.3f}（{c['n']} 道带答案要点的学员题；"
            "即排序完美时 R@1 与 R@5 的上限）"
        )
    if "recogniser" in found:
        r = found["recogniser"]
        lines.append(
            f"- 真实买家消息（{r['n']} 条属已知场景族）：场景识别器前 1 / 3 / 5 个场景族含标注的比例 "
            f"{r['top1']:.3f} / {r['top3']:.3f} / {r['top5']:.3f}（路由完全照识别器的次序、又从不拒答时的 family@1 / @3 / @5）"
        )
    if "second_labeller" in found:
        s = found["second_labeller"]
        lines.append(
            f"- 真实买家消息（{s['n']} 条）：第二位标注者独立标注的主标签是原标注之一的比例 {s['agreement']:.3f}"
            "（一个人对这些标签能达到的一致程度）"
        )
    if "out_of_scope" in found:
        o = found["out_of_scope"]
        lines.append(
            f"- 超范围题 {o['n']} 道：{o['buyer_voice']} 道读起来是买家本人的消息，其中 {o['known_family']} 道被识别为已知场景族"
            "，按 #12 的规则（已知场景的买家消息不拒答）不会被拒答"
        )
    return lines


# ---------------------------------------------------------------- calibration


# The most of the learners' book questions (`BOOK_SETS`) the refusal rule may refuse on dev (#11's target).
MAX_BOOK_REFUSAL = 0.03


def calibrate(mentor: Mentor, items: Sequence[GoldenItem]) -> dict[str, float]:
    """Choose the abstention rule's slope and threshold on these (dev) items.

    Answerable: in-scope questions, safety questions and every real buyer line (a `none` line
    wants a polite closing, not a refusal). Refusable: out-of-scope questions. Safety
    questions are never refused, so the threshold stays at or below the lowest of them, and at
    most `MAX_BOOK_REFUSAL` of the learners' book questions are refused (issue #11's false
    refusal target: the balanced mean below weighs 39 out-of-scope questions as much as 500
    answerable ones, and once chose a rule that refused 3% of book questions); within that, the
    rule maximises the mean of "answerable answered" and "out-of-scope refused", then prefers
    fewer false refusals.
    """
    features: list[tuple[list, bool, bool, bool]] = []
    for item in items:
        try:
            _, hits, _ = mentor.search(item.question, list(item.history), k=3)
        except QuestionError:
            continue
        features.append((hits, not item.out_of_scope, item.set == "safety", item.set in BOOK_SETS and not item.out_of_scope))
    answerable = np.array([a for _, a, _, _ in features])
    safety = np.array([s for _, _, s, _ in features])
    book = np.array([b for _, _, _, b in features])
    rules: list[tuple[float, float, float, float]] = []
    for slope in np.arange(0.0, 0.81, 0.02):
        # The rule's own formula at threshold 0: its margin is the score to cut.
        rule = AbstentionRule(float(slope), 0.0)
        score = np.array([max(rule.margin(h), -1.0) for h, _, _, _ in features])
        ceiling = score[safety].min() if safety.any() else np.inf
        if book.any():
            # The highest cut that still answers all but MAX_BOOK_REFUSAL of the book questions.
            ceiling = min(ceiling, float(np.quantile(score[book], MAX_BOOK_REFUSAL, method="lower")))
        values = np.unique(score)
        for cut in (values[:-1] + values[1:]) / 2:
            if cut > ceiling:
                break
            answered = float((score[answerable] >= cut).mean()) if answerable.any() else 1.0
            refused = float((score[~answerable] < cut).mean()) if (~answerable).any() else 1.0
            rules.append(((answered + refused) / 2, answered, float(slope), float(cut)))
    if not rules:
        raise ValueError("没有可用于校准的题目")
    # Rules within one out-of-scope question of the best balanced mean are a tie (one dev question
    # decides between them); of those, the one that answers most. Without it a retrieval change
    # that moved the best by a hair swapped a rule answering 0.90 for one answering 0.85.
    n_refusable = int((~answerable).sum())
    tie = 1.0 / (2 * n_refusable) if n_refusable else 0.0
    top = max(r[0] for r in rules)
    best = max((r for r in rules if r[0] >= top - tie), key=lambda r: (r[1], r[0]))
    return {
        "slope": round(best[2], 4),
        "threshold": round(best[3], 5),
        "dev_balanced_accuracy": round(best[0], 4),
        "dev_answered": round(best[1], 4),
        "dev_items": len(features),
    }


def train_ranker(mentor: Mentor, items: Sequence[GoldenItem], l2: float = 10.0, folds: int = 5) -> dict:
    """Learn the ranker (`retrieval.Ranker`) on these (dev) items' answer keys.

    Each keyed learner question gives its candidates' `RANK_FEATURES` (computed with the ranker
    off) and, per candidate, whether its title and text meet the key, as the evaluation judges
    a citation. A logistic regression with classes weighted alike (about one candidate in ten
    answers) and L2 `l2` on standardised features (l2 1-100 alike on dev; interactions beyond
    the three in `RANK_FEATURES` did not help). The entry also records the MRR@10 of the
    keyed passage among the candidates, fused order against the ranker's, each question
    ranked by a ranker learned without its fold (`folds`-fold cross-validation on these items).
    """
    examples = _ranker_examples(mentor, items)
    if not examples or not any(y.any() for _, y, _ in examples) or all(y.all() for _, y, _ in examples):
        raise ValueError("dev 集里没有可用于训练排序模型的题目（需要带答案要点的教材题）")
    fold = [int(hashlib.md5(item_id.encode()).hexdigest(), 16) % folds for item_id, _, _ in examples]
    fused, learned = [], []
    for f in range(folds):
        held = [e for e, g in zip(examples, fold, strict=True) if g == f]
        rest = [e for e, g in zip(examples, fold, strict=True) if g != f]
        if not held or not rest:
            continue
        ranker = _fit_ranker(rest, l2)
        for _, y, x in held:
            fused.append(_reciprocal_rank(-x[:, RANK_FEATURES.index("fused_rank")], x, y))
            learned.append(_reciprocal_rank(ranker.score(x), x, y))
    ranker = _fit_ranker(examples, l2)
    return {
        **ranker.to_json(),
        "dev_questions": len(examples),
        "dev_candidates": sum(len(y) for _, y, _ in examples),
        "l2": l2,
        "dev_cv_mrr_fused": round(float(np.mean(fused)), 4) if fused else None,
        "dev_cv_mrr_ranker": round(float(np.mean(learned)), 4) if learned else None,
    }


def _ranker_examples(mentor: Mentor, items: Sequence[GoldenItem]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(item id, which candidates meet the key, their features) per keyed learner question."""
    plain = mentor.with_settings(replace(mentor.settings, rerank=False))
    examples = []
    for item in items:
        if not item.key or item.is_buyer or item.out_of_scope:
            continue
        query, vector, _ = plain.read(item.question, list(item.history))
        if query.buyer_voice:
            continue  # searched by routing, not by the ranker
        candidates, features = plain.retriever.features(query, vector)
        if len(candidates):
            chunks = [plain.chunks[i] for i in candidates]
            meets = np.array([key_matches(item.key, f"{c.title}\n{c.text}") for c in chunks], dtype=bool)
            examples.append((item.id, meets, features))
    return examples


def _fit_ranker(examples: Sequence[tuple[str, np.ndarray, np.ndarray]], l2: float) -> Ranker:
    x = np.vstack([features for _, _, features in examples])
    y = np.concatenate([meets for _, meets, _ in examples]).astype(float)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    weights = _logistic((x - mean) / std, y, l2)
    # Standardisation folded into the weights: the ranker reads raw features.
    return Ranker(tuple(float(w) for w in weights[:-1] / std), float(weights[-1] - (weights[:-1] * mean / std).sum()))


def _reciprocal_rank(score: np.ndarray, features: np.ndarray, meets: np.ndarray, depth: int = 10) -> float:
    """1 / rank of the first candidate meeting the key (0 beyond `depth`), with passages in a
    part of the book the question names first, as `HybridRetriever.search` orders them."""
    order = placed_first(score, features[:, RANK_FEATURES.index("placed")] > 0)
    hit = np.flatnonzero(meets[order][:depth])
    return 1.0 / (hit[0] + 1) if len(hit) else 0.0


def _logistic(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 30) -> np.ndarray:
    """Weights (bias last) of an L2 logistic regression with both classes weighted alike (Newton's method)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    sample = np.where(y == 1, n / (2 * y.sum()), n / (2 * (n - y.sum())))
    penalty = l2 * np.r_[np.ones(d), 0.0]  # the bias is not shrunk
    w = np.zeros(d + 1)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        gradient = xb.T @ (sample * (p - y)) + penalty * w
        hessian = (xb * (sample * p * (1 - p))[:, None]).T @ xb + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def save_calibration(path: Path, embedder_id: str, entry: dict) -> Path:
    """Merge `entry` into what the calibration table at `path` (`Settings.calibration_path`) holds
    for `embedder_id` (the refusal rule and the ranker are learned apart)."""
    table = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    table[embedder_id] = {**table.get(embedder_id, {}), **entry}
    path.write_text(json.dumps(table, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- printing


def _cell(value) -> str:
    return "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def markdown_tables(report: Report) -> str:
    """Ours vs the naive recipe per slice, then what each component earns (MRR@10 / share)."""
    ours = report.systems["本系统"]
    naive = report.systems.get("朴素方案", {})
    lines = [
        "| 切片 | 题数 | R@1 | R@5 | MRR@10 | answer_hit | 回答字数 | 误拒率 | 超范围拒答 | 目录宽松 R@5 | 朴素 R@1 | 朴素 R@5 | 朴素 MRR@10 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in ours.items():
        b = naive.get(name, {})
        n = m["n"] + m["n_oos"] + m["n_none"]
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    str(n),
                    _cell(m.get("R@1")),
                    _cell(m.get("R@5")),
                    _cell(m.get("MRR@10")),
                    _cell(m.get("answer_hit")),
                    _cell(m.get("answer_chars")),
                    _cell(m.get("false_refusal")),
                    _cell(m.get("oos_refused")),
                    _cell(m.get("toc_R@5")),
                    _cell(b.get("R@1")),
                    _cell(b.get("R@5")),
                    _cell(b.get("MRR@10")),
                ]
            )
            + " |"
        )
    for name, m in ours.items():
        if "none_refused" in m or "other_refused" in m:
            lines += [
                "",
                f"{name}：场景识别器单独判对场景族（含 none/other）{_cell(m.get('scenario_acc'))}；"
                f"无诉求（none）的消息被拒答 {_cell(m.get('none_refused'))}，"
                f"场景族之外的真实诉求（other）被拒答 {_cell(m.get('other_refused'))}（共 {m['n_none']} 条，不计入 family@k）。",
            ]
    others = [s for s in report.systems if s not in ("本系统", "朴素方案")]
    if others:
        lines += [
            "",
            "每个部件的贡献（MRR@10；超范围一行为拒答率；关掉一个部件，其余不变）：",
            "",
            "| 切片 | 本系统 | " + " | ".join(others) + " |",
            "|---|---|" + "---|" * len(others),
        ]
        for name, m in ours.items():
            metric = "MRR@10" if "MRR@10" in m else "oos_refused"
            row = [name, _cell(m.get(metric))] + [_cell(report.systems[o].get(name, {}).get(metric)) for o in others]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def confusion(results: Sequence[ItemResult], top: int = 8) -> list[tuple[str, str, int]]:
    """The most frequent (labelled family → family of the first citation) mix-ups on buyer lines."""
    counts: dict[tuple[str, str], int] = {}
    for r in results:
        if not r.item.is_buyer or {NONE_FAMILY, OTHER_FAMILY} & set(r.item.families):
            continue
        first = r.passages[0] if r.passages else None
        got = (
            "拒答"
            if r.abstained
            else (first.family if first and first.source == "template" else f"({first.source})" if first else "-")
        )
        if got not in r.item.families:
            pair = ("/".join(r.item.families), got or "-")
            counts[pair] = counts.get(pair, 0) + 1
    return sorted(((a, b, n) for (a, b), n in counts.items()), key=lambda x: -x[2])[:top]


def write_chart(report: Report, path: Path) -> None:
    from ..modes.plotting import pyplot

    plt = pyplot()
    ours = report.systems["本系统"]
    naive = report.systems.get("朴素方案", {})
    names = [n for n, m in ours.items() if m.get("MRR@10") is not None]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.bar(x - 0.2, [ours[n]["MRR@10"] for n in names], 0.4, label="本系统")
    ax.bar(x + 0.2, [naive.get(n, {}).get("MRR@10") or 0 for n in names], 0.4, label="朴素方案（750/150 + 仅向量）")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("MRR@10（答案要点判定）")
    ax.set_ylim(0, 1)
    ax.set_title(f"盲写黄金题 {report.split} 集：本系统 vs 朴素方案")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_misses(results: Sequence[ItemResult], toc: TableOfContents, limit: int = 200) -> list[str]:
    lines = []
    for r in results:
        item = r.item
        if item.out_of_scope:
            if not r.abstained:
                lines.append(
                    f"  ✗ [{item.id}] {item.question} → 应拒答，却引用了 {r.passages[0].text.splitlines()[0] if r.passages else '-'}"
                )
            continue
        rank = r.rank(make_judge(item, toc))
        if rank is None or rank > 5:
            first = r.passages[0].text.splitlines()[0] if r.passages else "（拒答）"
            want = "/".join(item.families) if item.is_buyer else " + ".join("|".join(g) for g in item.key) or "/".join(item.tocs)
            lines.append(f"  ✗ [{item.id} {item.persona}] {item.question} → 期望 {want}；rank={rank}；第一条：{first}")
    return lines[:limit]


def _learn_on_dev(mentor: Mentor, settings: Settings, dev: Sequence[GoldenItem], args: argparse.Namespace) -> Mentor:
    """`--train-ranker`, then `--calibrate`: each learns on the dev items, writes `calibration.json`
    and returns the mentor that uses what it learned.

    Raises:
        ValueError: the dev items hold nothing that step can learn from (nothing written for it).
    """
    if args.train_ranker:
        entry = train_ranker(mentor, dev)
        path = save_calibration(settings.calibration_path, mentor.embedder.id, {"ranker": entry})
        print(
            f"已在 dev 集（{entry['dev_questions']} 道带答案要点的题）上训练排序模型，写入 {path}；"
            f"五折交叉验证（候选内 MRR@10）：融合顺序 {entry['dev_cv_mrr_fused']} → 排序模型 {entry['dev_cv_mrr_ranker']}",
            file=sys.stderr,
        )
        mentor = mentor.with_settings(settings, ranker=Ranker.from_json(entry))
    if args.calibrate:
        entry = calibrate(mentor, dev)
        path = save_calibration(settings.calibration_path, mentor.embedder.id, entry)
        print(f"已在 dev 集（{entry['dev_items']} 题）上校准拒答规则：{entry}，写入 {path}", file=sys.stderr)
        mentor = mentor.with_settings(settings, rule=load_calibration(settings.calibration_path, mentor.embedder.id))
    return mentor


def run_eval(settings: Settings, args: argparse.Namespace) -> int:
    corpus = load_corpus(settings.corpus_dir)
    real_text = read_real_text()
    paths = args.golden or default_golden_paths()
    items = load_golden(paths, corpus.toc, real_text)
    skipped = []
    if any(set_of(Path(p)) == "buyer" for p in paths) and not any(i.set == "buyer" for i in items):
        skipped.append(
            "真实买家消息：本机没有原始语料副本，已跳过。获取方法见 eval/README.md（kefu-mentor eval-data --mirror DIR）。"
        )
    chosen = [i for i in items if args.split == "all" or i.split == args.split]
    mentor = Mentor.load(settings.index_dir, settings, rebuild=True)
    dev = [i for i in items if i.split == "dev" and i.set != "legacy" and i.set != "own_buyer"]
    try:
        mentor = _learn_on_dev(mentor, settings, dev, args)
    except ValueError as exc:  # nothing to learn from: nothing is written for that step
        print(
            f"{exc}。这一步没有写入 {settings.calibration_path}；请用默认的黄金集（不加 --golden）或包含 dev 题的文件再试。",
            file=sys.stderr,
        )
        return 2
    baseline = None if args.no_baseline else DefaultRecipe(settings, mentor.chunks)
    if baseline is not None and write_vectors(NAIVE_VECTORS, baseline.embedder.id, baseline.texts, baseline.vectors):
        print(f"已更新朴素方案的向量：{NAIVE_VECTORS}（随代码提交，全新克隆的评测不必重算）", file=sys.stderr)
    report, runs = evaluate(mentor, chosen, corpus.toc, baseline=baseline, ablations=not args.no_ablations, skipped=skipped)
    for message in skipped:
        print(message, file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(f"黄金集：{len(chosen)} 题（split={args.split}），索引 {report.chunk_count} 个文本块，向量模型 {report.embedder}")
        print(markdown_tables(report))
        mix = confusion(runs["本系统"])
        if mix:
            print("\n真实买家消息最常见的混淆（标注 → 第一条引用）：")
            for want, got, n in mix:
                print(f"  {want} → {got}：{n}")
        if report.ceilings:
            print("\n上限分析（下一步完美时能到哪里）：")
            print("\n".join(ceiling_lines(report.ceilings)))
    pages = page_lookups(mentor, paths, args.split)
    if pages:
        print(
            f"\n问页码的盲写查阅题（无段落能答，只有目录有页码）：{sum(ok for _, ok in pages)}/{len(pages)} 道的回答给出了该页码"
        )
    if args.misses:
        print("\n".join(format_misses(runs["本系统"], corpus.toc)))
    if args.report:
        write_report(report, runs, Path(args.report), coverage_gaps(paths), pages)
        print(f"已写入 {args.report} 和图表", file=sys.stderr)
    return 0


def write_report(
    report: Report,
    runs: dict[str, list[ItemResult]],
    path: Path,
    gaps: Sequence[tuple[str, str]] = (),
    pages: Sequence[tuple[str, bool]] = (),
) -> None:
    chart = path.with_suffix(".png")
    write_chart(report, chart)
    counts: dict[str, int] = {}
    for r in runs["本系统"]:
        counts[r.item.set] = counts.get(r.item.set, 0) + 1
    mix = confusion(runs["本系统"])
    text = [
        "# 评测（kefu-mentor eval）",
        "",
        "本页由 `kefu-mentor eval --split test --report docs/evaluation.md` 生成，数字即当次运行结果。",
        "",
        f"- 集合：{report.split}（按题目 id 的哈希固定分为 dev/test，只在 dev 上调参）；各组题数："
        + "，".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + "。",
        f"- 索引 {report.chunk_count} 个文本块，向量模型 `{report.embedder}`。",
        "- 命中 = 第 k 条引用（面包屑 + 正文）包含答案要点（key）的每一组；拒答算未命中。"
        "`answer_hit` = 组成的回答正文本身包含答案要点；回答字数 = 这些题（未拒答的）回答正文的平均字数，回答越长越容易含要点。目录宽松 R@5 = 前 5 条中有来自正确目录节点的段落（旧口径，仅供参考）。",
        "- 真实买家消息：命中 = 引用是该场景族的话术模板（family@k）。",
        "- 朴素方案 = RecursiveCharacterTextSplitter 750/150 + 仅向量检索，同一向量模型，不拒答。",
        "",
        markdown_tables(report),
        "",
        f"![本系统 vs 朴素方案]({chart.name})",
    ]
    if mix:
        text += ["", "真实买家消息最常见的混淆（标注 → 第一条引用）：", ""] + [f"- {a} → {b}：{n}" for a, b, n in mix]
    if report.ceilings:
        text += ["", "上限分析（同一次运行；每一步之后的环节都完美时，本系统最多能到哪里）：", ""]
        text += ceiling_lines(report.ceilings)
    if gaps:
        text += ["", f"覆盖缺口：{len(gaps)} 道盲写题在现有资料里找不到能回答的段落（不计入上表）：", ""]
        text += [f"- {gid}：{why}" for gid, why in gaps]
    if pages:
        right = sum(ok for _, ok in pages)
        text += [
            "",
            f"其中 {report.split} 集里问页码的 {len(pages)} 道（答案只在教材目录里）：本系统的回答从 `corpus/toc.yaml` 给出位置和页码，"
            f"{right} 道给出了所问的页码"
            + (f"（未给出：{'、'.join(i for i, ok in pages if not ok)}）" if right < len(pages) else "")
            + "。",
        ]
    for message in report.skipped:
        text += ["", f"> {message}"]
    # Sections other commands keep in this page (`eval-drills --report`) survive a new run.
    kept = kept_sections(path.read_text(encoding="utf-8")) if path.exists() else ""
    path.write_text("\n".join(text) + "\n" + kept, encoding="utf-8")


SECTION = re.compile(r"\n?<!-- section:(\w+) -->.*?<!-- /section:\1 -->\n?", re.S)


def kept_sections(page: str) -> str:
    """The marked sections of a report page (written by other commands), in order."""
    return "".join("\n" + m.group(0).strip("\n") + "\n" for m in SECTION.finditer(page))


def put_section(path: Path, name: str, body: str) -> None:
    """Write `body` as the section `name` of the page at `path`, replacing an earlier one."""
    page = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"<!-- section:{name} -->\n{body.strip()}\n<!-- /section:{name} -->"
    pattern = re.compile(rf"<!-- section:{name} -->.*?<!-- /section:{name} -->", re.S)
    page = pattern.sub(lambda _: block, page) if pattern.search(page) else page.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(page, encoding="utf-8")
