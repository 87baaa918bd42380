"""Corpus checks and coverage: which TOC subsections have material, and of which kind."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from ..config import Settings
from ..errors import CorpusError
from ..pipeline.chunking import chunk_sections
from ..pipeline.corpus import Corpus, load_corpus
from ..schema import SOURCE_LABELS, SOURCE_TYPES, Chunk, Section

_NON_WORD = re.compile(r"[^\w\u4e00-\u9fff]+")


@dataclass(frozen=True)
class CoverageRow:
    toc_id: str
    title: str
    breadcrumb: str
    page: int | None
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def coverage_rows(corpus: Corpus, chunks: list[Chunk]) -> list[CoverageRow]:
    """One row per TOC leaf: chunks by source type placed in it."""
    per_node: dict[str, Counter] = defaultdict(Counter)
    for chunk in chunks:
        per_node[chunk.toc_id][chunk.source] += 1
    rows = []
    for leaf in corpus.toc.leaves():
        if leaf.id in ("front", "references"):
            continue
        counts = {s: per_node[leaf.id][s] for s in SOURCE_TYPES}
        rows.append(CoverageRow(leaf.id, leaf.title, " › ".join(corpus.toc.breadcrumb(leaf.id)), leaf.page, counts))
    return rows


def _shingles(text: str, n: int = 5) -> set[str]:
    text = _NON_WORD.sub("", text)
    return {text[i : i + n] for i in range(max(1, len(text) - n + 1))}


def find_duplicates(sections: list[Section], threshold: float = 0.8) -> list[tuple[Section, Section, float]]:
    """Pairs of sections that say the same thing twice (sections, not chunks: two copies of a card
    under one subsection are cited as one passage)."""
    pairs = []
    shingles = [_shingles(c.text) for c in sections]
    for i in range(len(sections)):
        for j in range(i + 1, len(sections)):
            a, b = shingles[i], shingles[j]
            if not a or not b or min(len(a), len(b)) / max(len(a), len(b)) < threshold:
                continue
            similarity = len(a & b) / len(a | b)
            if similarity >= threshold:
                pairs.append((sections[i], sections[j], similarity))
    return pairs


def duplicate_phrasings(chunks: list[Chunk]) -> list[tuple[str, list[str]]]:
    """Buyer phrasings used by more than one template: retrieval cannot tell them apart."""
    owners: dict[str, list[str]] = defaultdict(list)
    for chunk in chunks:
        for said in chunk.buyer_says:
            owners[_NON_WORD.sub("", said)].append(chunk.breadcrumb[-1])
    return [(said, names) for said, names in owners.items() if len(set(names)) > 1]


def check_corpus_report(settings: Settings, as_json: bool = False) -> tuple[str, bool]:
    """Validate the corpus and report coverage, duplicates and gaps.

    Returns:
        (report text, True when there is no error and no gap).
    """
    try:
        corpus = load_corpus(settings.corpus_dir)
    except CorpusError as exc:
        return (json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False) if as_json else str(exc)), False
    chunks = chunk_sections(corpus.sections, settings.chunker)
    rows = coverage_rows(corpus, chunks)
    gaps = [r for r in rows if r.total == 0]
    duplicates = find_duplicates(corpus.sections)
    phrasings = duplicate_phrasings(chunks)
    ok = not gaps
    if as_json:
        payload = {
            "ok": ok,
            "files": len(corpus.files),
            "chunks": Counter(c.source for c in chunks),
            "coverage": [{"toc_id": r.toc_id, "breadcrumb": r.breadcrumb, "page": r.page, **r.counts} for r in rows],
            "gaps": [r.toc_id for r in gaps],
            "duplicates": [
                {"a": f"{a.file}:{a.line}", "b": f"{b.file}:{b.line}", "similarity": round(s, 3)} for a, b, s in duplicates
            ],
            "duplicate_phrasings": [{"text": t, "templates": n} for t, n in phrasings],
        }
        return json.dumps(payload, ensure_ascii=False, indent=2), ok
    lines = [
        f"语料校验通过：{len(corpus.files)} 个文件，{len(chunks)} 个文本块（"
        + "，".join(f"{SOURCE_LABELS[s]} {sum(c.source == s for c in chunks)}" for s in SOURCE_TYPES)
        + "）",
        "",
    ]
    # Counts first and the breadcrumb last, whole: a cut breadcrumb loses the module name.
    lines.append(f"{'页码':>4}{'教材':>5}{'补充':>5}{'话术':>5}  目录小节")
    for r in rows:
        flag = "  ← 没有任何资料" if r.total == 0 else ""
        counts = "".join(f"{r.counts[s]:>7}" for s in SOURCE_TYPES)
        lines.append(f"{r.page if r.page is not None else '-':>6}{counts}  {r.breadcrumb}{flag}")
    lines.append("")
    lines.append(f"覆盖：{len(rows) - len(gaps)}/{len(rows)} 个小节有资料" + (f"，{len(gaps)} 个缺口" if gaps else "，没有缺口"))
    if duplicates:
        lines.append(f"重复或近似重复的段落 {len(duplicates)} 对：")
        lines += [f"  {a.file}:{a.line} ~ {b.file}:{b.line}（相似度 {s:.2f}）" for a, b, s in duplicates[:20]]
    if phrasings:
        lines.append(f"被多条话术共用的买家说法 {len(phrasings)} 条（检索时无法区分）：")
        lines += [f"  “{t}”：{'、'.join(n)}" for t, n in phrasings[:20]]
    return "\n".join(lines), ok
