"""`kefu-mentor eval`: the golden set, our pipeline versus the plain default recipe.

The default recipe is what a user would otherwise pick: RecursiveCharacterTextSplitter
(750/150) over the raw text, dense retrieval only, same embedder, no abstention.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .config import Settings
from .corpus import load_corpus
from .embedding import EmbeddingCache, load_embedder
from .mentor import Mentor, search_form
from .schema import Chunk
from .toc import TableOfContents

PERSONAS = ("student", "agent", "instructor")
PERSONA_LABELS = {"student": "学生", "agent": "新客服", "instructor": "教师", "all": "全部"}


@dataclass(frozen=True)
class GoldenItem:
    id: str
    split: str
    persona: str
    question: str
    history: tuple[str, ...] = ()
    # Any of these TOC nodes is right: a topic such as 物流停滞 is taught in more than one place.
    tocs: tuple[str, ...] = ()
    heading: str | None = None
    out_of_scope: bool = False
    group: str = ""  # the golden file it came from, e.g. "m2to7"
    source: str | None = None  # e.g. "template": a buyer's line must find a reply template


@dataclass
class ItemResult:
    item: GoldenItem
    rank: int | None  # 1-based rank of the first right passage within the top 10
    abstained: bool
    features: list[tuple[float, float]] = field(default_factory=list)


def load_golden(paths: Iterable[Path], toc: TableOfContents | None = None) -> list[GoldenItem]:
    """Read golden YAML files; every expectation must name a real TOC node."""
    items, seen = [], set()
    for path in paths:
        for raw in yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []:
            expect = raw.get("expect") or {}
            item = GoldenItem(
                id=str(raw["id"]), split=raw.get("split", "dev"), persona=raw.get("persona", "student"),
                question=str(raw["question"]), history=tuple(raw.get("history") or ()),
                tocs=_as_tuple(expect.get("toc")), heading=expect.get("heading"), out_of_scope=bool(raw.get("out_of_scope")),
                group=Path(path).stem.removeprefix("golden_"), source=expect.get("source"),
            )
            if item.id in seen:
                raise ValueError(f"{path}: 重复的题目 id {item.id}")
            seen.add(item.id)
            unknown = [t for t in item.tocs if toc is not None and t not in toc]
            if not item.out_of_scope and (not item.tocs or unknown):
                raise ValueError(f"{path}: 题目 {item.id} 的 expect.toc “{'/'.join(unknown) or '（空）'}” 不在目录中")
            items.append(item)
    return items


def _as_tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def is_hit(places: Iterable[tuple[str, str, str]], item: GoldenItem, toc: TableOfContents) -> bool:
    """True when any (toc_id, breadcrumb, source) place lies in the expected node.

    The expected heading (a numbered sub-section of the book) is checked for textbook
    passages only: our cards and templates are placed at TOC level and have no such headings.
    """
    for toc_id, crumbs, source in places:
        if item.source and source != item.source:
            continue
        if any(toc.is_within(toc_id, want) for want in item.tocs) and (not item.heading or source != "textbook" or item.heading in crumbs):
            return True
    return False


def evaluate_mentor(mentor: Mentor, items: list[GoldenItem], toc: TableOfContents) -> list[ItemResult]:
    results = []
    for item in items:
        query = mentor.retriever.prepare(search_form(item.question), [search_form(h) for h in item.history])
        hits = mentor.retriever.search(query, 10)
        rank = None
        for position, hit in enumerate(hits, 1):
            chunk = mentor.store.chunks[hit.index]
            if not item.out_of_scope and is_hit([(chunk.toc_id, chunk.title, chunk.source)], item, toc):
                rank = position
                break
        features = [(h.dense, h.coverage) for h in hits[:3]]
        results.append(ItemResult(item, rank, mentor.rule.abstains(hits), features))
    return results


class DefaultRecipe:
    """750/150 character chunks over the raw text, dense search only."""

    def __init__(self, settings: Settings, chunks: list[Chunk]):
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.embedder = load_embedder(settings.embedder)
        raw, spans = [], []
        offset = 0
        for chunk in chunks:
            piece = " › ".join(chunk.breadcrumb[-1:]) + "\n" + chunk.text + "\n\n"
            spans.append((offset, offset + len(piece), chunk.toc_id, chunk.title, chunk.source))
            raw.append(piece)
            offset += len(piece)
        text = "".join(raw)
        splitter = RecursiveCharacterTextSplitter(chunk_size=750, chunk_overlap=150, add_start_index=True)
        docs = splitter.create_documents([text])
        self.texts = [d.page_content for d in docs]
        # Where each baseline chunk lies, generously: every section it overlaps substantially.
        self.places: list[list[tuple[str, str, str]]] = []
        for doc in docs:
            start = doc.metadata["start_index"]
            end = start + len(doc.page_content)
            places = []
            for s_start, s_end, toc_id, title, source in spans:
                overlap = min(end, s_end) - max(start, s_start)
                if overlap > 0 and overlap >= min(100, (s_end - s_start) / 2):
                    places.append((toc_id, title, source))
            self.places.append(places)
        cache = EmbeddingCache(settings.cache_dir, self.embedder.id, self.embedder.dim)
        self.vectors = cache.embed(self.texts, self.embedder.embed_passages)
        cache.save()

    def evaluate(self, items: list[GoldenItem], toc: TableOfContents) -> list[ItemResult]:
        results = []
        for item in items:
            query = " ".join([*item.history[-1:], item.question]) if item.history else item.question
            scores = self.vectors @ self.embedder.embed_queries([query])[0]
            order = np.argsort(-scores)[:10]
            rank = None
            if not item.out_of_scope:
                for position, i in enumerate(order, 1):
                    if is_hit(self.places[i], item, toc):
                        rank = position
                        break
            results.append(ItemResult(item, rank, abstained=False))
        return results


def metrics(results: list[ItemResult]) -> dict[str, float | int]:
    inscope = [r for r in results if not r.item.out_of_scope]
    oos = [r for r in results if r.item.out_of_scope]
    n = len(inscope)
    out: dict[str, float | int] = {"n": n, "n_oos": len(oos)}
    if n:
        out["R@1"] = sum(r.rank == 1 for r in inscope) / n
        out["R@5"] = sum(r.rank is not None and r.rank <= 5 for r in inscope) / n
        out["MRR@10"] = sum(1 / r.rank for r in inscope if r.rank) / n
        out["false_refusal"] = sum(r.abstained for r in inscope) / n
        out["answered_right@5"] = sum((not r.abstained) and r.rank is not None and r.rank <= 5 for r in inscope) / n
    if oos:
        out["oos_refusal"] = sum(r.abstained for r in oos) / len(oos)
    return out


def breakdown(results: list[ItemResult]) -> dict[str, dict]:
    table = {"all": metrics(results)}
    for persona in PERSONAS:
        subset = [r for r in results if r.item.persona == persona]
        if subset:
            table[persona] = metrics(subset)
    groups = sorted({r.item.group for r in results if r.item.group})
    if len(groups) > 1:
        for group in groups:
            table[f"set:{group}"] = metrics([r for r in results if r.item.group == group])
    follow = [r for r in results if r.item.history]
    if follow:
        table["follow-up"] = metrics(follow)
    return table


def calibrate(results: list[ItemResult]) -> dict[str, float]:
    """Choose slope and threshold of the abstention rule on these (dev) results.

    Maximises the mean of "in-scope answered" and "out-of-scope refused", then prefers
    fewer false refusals; the threshold is put midway between neighbouring margins.
    """
    inscope = [r for r in results if not r.item.out_of_scope and r.features]
    oos = [r for r in results if r.item.out_of_scope and r.features]
    best: tuple[float, float, float, float] | None = None
    for slope in np.arange(0.0, 0.81, 0.02):
        pos = np.array([max(d + slope * c for d, c in r.features) for r in inscope])
        neg = np.array([max(d + slope * c for d, c in r.features) for r in oos])
        candidates = np.unique(np.concatenate([pos, neg]))
        cuts = (candidates[:-1] + candidates[1:]) / 2 if len(candidates) > 1 else candidates
        for cut in cuts:
            answered = float((pos >= cut).mean()) if len(pos) else 1.0
            refused = float((neg < cut).mean()) if len(neg) else 1.0
            key = ((answered + refused) / 2, answered)
            if best is None or key > (best[0], best[1]):
                best = (key[0], key[1], float(slope), float(cut))
    if best is None:
        raise ValueError("没有可用于校准的题目")
    return {"slope": round(best[2], 4), "threshold": round(best[3], 5), "dev_balanced_accuracy": round(best[0], 4)}


def format_table(ours: dict[str, dict], baseline: dict[str, dict] | None) -> str:
    columns = ("R@1", "R@5", "MRR@10", "false_refusal", "oos_refusal")
    head = f"{'方案':<10}{'人群':<10}{'题数':>6}" + "".join(f"{c:>15}" for c in columns)
    lines = [head, "-" * len(head)]
    for name, table in (("本系统", ours), ("默认方案", baseline)):
        if not table:
            continue
        for group, values in table.items():
            label = PERSONA_LABELS.get(group, group)
            cells = "".join(
                f"{values[c]:>15.3f}" if isinstance(values.get(c), float) else f"{'-':>15}" for c in columns
            )
            lines.append(f"{name:<10}{label:<10}{values['n'] + values['n_oos']:>6}{cells}")
    return "\n".join(lines)


def default_golden_paths() -> list[Path]:
    return sorted(Path("eval").glob("golden_*.yaml"))


def run_eval(settings: Settings, args: argparse.Namespace) -> int:
    corpus = load_corpus(settings.corpus_dir)
    items = load_golden(args.golden or default_golden_paths(), corpus.toc)
    mentor = Mentor.load(settings.index_dir, settings, rebuild=True)
    all_results = evaluate_mentor(mentor, items, corpus.toc)
    if args.calibrate:
        dev = [r for r in all_results if r.item.split == "dev"]
        entry = calibrate(dev)
        path = Path(__file__).with_name("calibration.json")
        table = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        table[mentor.embedder.id] = entry
        path.write_text(json.dumps(table, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"已在 dev 集（{len(dev)} 题）上校准拒答规则：{entry}，写入 {path}")
        mentor = Mentor(mentor.store, mentor.embedder, settings)
        all_results = evaluate_mentor(mentor, items, corpus.toc)
    chosen = [r for r in all_results if args.split == "all" or r.item.split == args.split]
    ours = breakdown(chosen)
    baseline = None
    if not args.no_baseline:
        recipe = DefaultRecipe(settings, mentor.store.chunks)
        baseline = breakdown(recipe.evaluate([r.item for r in chosen], corpus.toc))
    if args.json:
        print(json.dumps({"ours": ours, "default_recipe": baseline, "split": args.split}, ensure_ascii=False, indent=2))
    else:
        print(f"黄金集：{len(chosen)} 题（split={args.split}），索引 {mentor.store.manifest['chunk_count']} 个文本块，向量模型 {mentor.embedder.id}")
        print(format_table(ours, baseline))
    if args.misses:
        for r in chosen:
            wrong = r.abstained != r.item.out_of_scope or (not r.item.out_of_scope and (r.rank or math.inf) > 5)
            if wrong:
                want = "拒答" if r.item.out_of_scope else f"{'/'.join(r.item.tocs)} {r.item.heading or ''}"
                print(f"  ✗ [{r.item.id} {r.item.persona}] {r.item.question} → 期望 {want}；rank={r.rank} 拒答={r.abstained}")
    return 0
