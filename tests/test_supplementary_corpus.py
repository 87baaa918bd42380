"""Modules 2-7: our cards and reply templates cover the book, stay labelled, and are found."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from kefu_mentor.config import Settings
from kefu_mentor.modes.coverage import coverage_rows
from kefu_mentor.pipeline.chunking import chunk_sections
from kefu_mentor.pipeline.corpus import load_corpus
from kefu_mentor.tools.evaluation import ablated, ask_all, load_golden, metrics

from .conftest import REAL_CORPUS

EVAL = Path(__file__).resolve().parents[1] / "eval" / "legacy"
FAMILIES = {
    "迎接问好",
    "商品咨询与推荐",
    "议价",
    "催付",
    "订单核实",
    "物流跟踪",
    "异常物流",
    "退换货",
    "普通售后",
    "纠纷",
    "中差评",
    "关联销售",
    "老客户回访",
    "VIP客户",
    "直播间客服",
    "智能客服转人工",
}


def test_every_toc_subsection_has_material():
    corpus = load_corpus(REAL_CORPUS)
    rows = coverage_rows(corpus, chunk_sections(corpus.sections, Settings().chunker))
    assert {r.toc_id[:2] for r in rows} == {f"m{n}" for n in range(1, 8)}
    assert [r.breadcrumb for r in rows if r.total == 0] == []
    # Modules 2-7 have no book text: every one of their subsections has at least one card.
    later = [r for r in rows if re.match(r"m[2-7]", r.toc_id)]
    assert len(later) > 90
    assert [r.breadcrumb for r in later if r.counts["supplement"] == 0] == []


def test_template_library_covers_every_scenario_family():
    families, stages, count = Counter(), set(), 0
    for path in sorted((REAL_CORPUS / "templates").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        families[data["family"]] += len(data["templates"])
        stages.add(data["stage"])
        for item in data["templates"]:
            count += 1
            assert len(item["buyer_says"]) >= 3, item["id"]
            assert all(item[k].strip() for k in ("reply", "why", "avoid")), item["id"]
    assert count >= 150
    assert FAMILIES <= set(families), FAMILIES - set(families)
    assert stages == {"售前", "售中", "售后", "客户关系"}


def test_our_writing_never_poses_as_the_book():
    corpus = load_corpus(REAL_CORPUS)
    ours = [s for s in corpus.sections if s.source != "textbook"]
    assert ours
    claims = re.compile(r"(?<!不是)教材(中)?(指出|写道|原文)|书中(写道|指出)|本书认为")
    assert [s.breadcrumb for s in ours if claims.search(s.text)] == []
    # No page numbers on our material: pages belong to the book.
    assert all(s.page is None for s in ours)


def _rate(real_mentor, golden: str) -> dict:
    corpus = load_corpus(REAL_CORPUS)
    items = load_golden([EVAL / golden], corpus.toc)
    # These legacy sets measure ranking, as they did when written: abstention is judged elsewhere.
    return metrics(ask_all(ablated(real_mentor, {"abstention": False}), items), corpus.toc)


def test_modules_2_to_7_questions_find_the_right_topic(real_mentor):
    # Issue 3 asked for a passage on the right topic within the top 5 at least 90% of the time on
    # this legacy set (written alongside the cards, judged by TOC node). Gating BM25 for
    # everyday wording (Settings.lexical_trust) took it from 0.90 to 0.85 while the blind sets
    # gained far more (module 1 MRR +0.08 on test); the blind modules 2-7 set is what #11
    # measures now. This guards against a collapse, not the target.
    result = _rate(real_mentor, "golden_m2to7.yaml")
    assert result["n"] >= 60
    assert result["toc_R@5"] >= 0.83, result


def test_buyer_words_get_a_reply_template_first(real_mentor):
    # Paraphrases written apart from the library: the first citation is a template of the
    # right scenario family for most of them, and one is always in the top 5.
    result = _rate(real_mentor, "golden_buyer_lines.yaml")
    assert result["n"] >= 45
    assert result["R@5"] == 1.0, result
    assert result["R@1"] >= 0.85, result


def test_answer_to_a_buyer_line_cites_the_template_and_its_reply(real_mentor):
    answer = real_mentor.ask("亲 东西到了 盒子都压坏了 里面也碎了")
    assert not answer.abstained
    first = answer.citations[0]
    assert first.source == "template" and first.reply
    assert first.reply in first.text  # the recommended reply is quoted verbatim
