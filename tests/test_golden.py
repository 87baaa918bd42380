"""The measuring stick itself: golden files whose keys can be met and whose questions are ours to ask."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from kefu_mentor.pipeline.corpus import load_corpus
from kefu_mentor.tools.evaluation import (
    GoldenItem,
    ItemResult,
    Passage,
    default_golden_paths,
    key_matches,
    load_golden,
    metrics,
    normalise,
)

from .conftest import REAL_CORPUS

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "eval"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(REAL_CORPUS)


@pytest.fixture(scope="module")
def blind(corpus):
    return load_golden(sorted((EVAL / "blind").glob("*.yaml")), corpus.toc)


def test_key_matching_needs_every_group():
    key = (("6分/次", "扣6分"), ("48分",))
    assert key_matches(key, "情节严重的扣 48 分……扣6分")
    assert not key_matches(key, "扣6分")
    assert not key_matches((), "anything")
    assert normalise("ＡＢ c") == "abc"


def test_blind_sets_hold_the_promised_counts(blind):
    count = Counter(i.set for i in blind)
    assert count["m1"] >= 200, count
    assert count["m2to7"] >= 100, count
    assert count["oos"] >= 60, count
    assert count["safety"] >= 20, count
    m1 = [i for i in blind if i.set == "m1"]
    assert sum(i.style == "colloquial" for i in m1) / len(m1) >= 0.4
    assert any(i.history for i in m1)
    assert all(i.key for i in blind if not i.out_of_scope)


def test_real_buyer_lines_are_pointers_with_labels():
    rows = yaml.safe_load((EVAL / "real" / "buyer_lines.yaml").read_text(encoding="utf-8"))
    assert len(rows) >= 300
    for row in rows:
        assert row["families"], row["id"]
        assert {"repo", "commit", "path", "line", "start", "end", "sha1"} <= set(row), row["id"]
        assert len(row["commit"]) == 40


def test_every_key_can_be_met_by_one_passage(corpus, blind):
    # A key mistyped or split across sections would be an impossible target. One passage is a
    # section, or a section with its lead-in and siblings (a list question's items are sub-headings).
    sections = [f"{' › '.join(s.breadcrumb)}\n{s.text}" for s in corpus.sections]
    parents: dict[tuple[str, ...], list[str]] = {}
    for s in corpus.sections:
        text = f"{' › '.join(s.breadcrumb)}\n{s.text}"
        parents.setdefault(s.breadcrumb[:-1], []).append(text)
        parents.setdefault(s.breadcrumb, []).insert(0, text)  # a lead-in heads its items
    sections += ["\n".join(texts) for texts in parents.values()]
    impossible = [i.id for i in blind if i.key and not any(key_matches(i.key, s) for s in sections)]
    assert impossible == []


def test_no_golden_question_is_copied_from_our_material(corpus, blind):
    # Our cards, templates' buyer phrasings and situation phrasings were written apart from the questions.
    ours = [normalise(s.text) for s in corpus.sections if s.source != "textbook"]
    said = {normalise(x) for s in corpus.sections for x in s.buyer_says + s.asks}
    copied = [
        i.id
        for i in blind
        if normalise(i.question) in said or (len(normalise(i.question)) >= 8 and any(normalise(i.question) in t for t in ours))
    ]
    assert copied == []


def test_split_is_a_fixed_hash_of_the_id(blind):
    splits = Counter(i.split for i in blind)
    assert 0.4 <= splits["dev"] / len(blind) <= 0.6
    assert GoldenItem("x-1", "m1", "student", "q").split == GoldenItem("x-1", "oos", "agent", "other").split


def test_default_paths_load_without_real_text(corpus):
    # Without the local copy of the real corpus, the buyer lines are skipped, not guessed.
    items = load_golden(default_golden_paths(EVAL), corpus.toc, real_text={})
    assert not [i for i in items if i.set == "buyer"]


def test_metrics_count_refusals_as_misses(corpus):
    key = (("扣6分",),)
    good = Passage("… 扣6分 …", "m1t2-k2", "textbook")
    other = Passage("无关", "m1t1-k1", "textbook")
    items = [GoldenItem(f"q{i}", "m1", "student", "q", key=key, tocs=("m1t2-k2",)) for i in range(4)]
    oos = GoldenItem("o", "oos", "agent", "q", out_of_scope=True)
    results = [
        ItemResult(items[0], (good, other), False, "答：扣6分"),
        ItemResult(items[1], (other, good), False, "无关"),
        ItemResult(items[2], (), True, "拒答"),
        ItemResult(items[3], (other,) * 10, False, ""),
        ItemResult(oos, (), True),
    ]
    m = metrics(results, corpus.toc)
    assert m["R@1"] == 0.25 and m["R@5"] == 0.5
    assert m["MRR@10"] == pytest.approx((1 + 0.5) / 4)
    assert m["false_refusal"] == 0.25 and m["oos_refused"] == 1.0
    assert m["answer_hit"] == 0.25
    assert m["answer_chars"] == round((len("答：扣6分") + len("无关") + 0) / 3)  # answered ones only
