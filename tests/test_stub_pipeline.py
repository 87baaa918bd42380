"""The whole pipeline on the mini corpus with the deterministic stand-in embedder (`hash:256`):
fusion, abstention, composition, follow-ups and rendering in seconds, with no model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kefu_mentor import Mentor, Settings, build_index
from kefu_mentor.app.render import answer_markdown, sources_html
from kefu_mentor.pipeline.answer import LIVE_REFUSAL, REFUSAL, UNCALIBRATED, AbstentionRule, asks_live_fact
from kefu_mentor.pipeline.embedding import load_embedder

MINI = Path(__file__).resolve().parent / "data" / "mini_corpus"


@pytest.fixture(scope="module")
def stub(tmp_path_factory) -> Mentor:
    base = tmp_path_factory.mktemp("stub")
    shutil.copytree(MINI, base / "corpus")
    settings = Settings(corpus_dir=base / "corpus", index_dir=base / "index", cache_dir=base / "cache", embedder="hash:256")
    build_index(settings)
    loaded = Mentor.load(settings.index_dir, settings)
    assert loaded.rule == UNCALIBRATED  # calibration.json has no entry for hash:256
    # Hash cosines run lower than a model's: a rule set for the stand-in (a word match counts fully).
    return loaded.with_settings(settings, rule=AbstentionRule(slope=1.0, threshold=0.7))


def test_the_stand_in_is_deterministic_and_normalised():
    embedder = load_embedder("hash:64")
    a, b = embedder.embed_queries(["泄露他人信息"]), embedder.embed_passages(["泄露他人信息"])
    assert a.shape == (1, 64) and abs(float((a * a).sum()) - 1.0) < 1e-5
    assert (a == b).all()  # no roles: the same text, the same vector


def test_fusion_puts_the_passage_that_matches_both_ways_first(stub):
    query, hits, _ = stub.search("泄露他人信息会被扣几分？")
    top = hits[0]
    assert "3. 不能泄露他人信息" in top.chunk.text and "扣6分" in top.chunk.text
    assert top.dense > 0 and top.bm25 > 0  # both rankings voted for it
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_question_near_nothing_is_refused_without_suggestions(stub):
    far = stub.ask("红烧肉怎么做才好吃")
    assert far.abstained and far.citations == () and far.suggestions == ()
    assert far.answer == REFUSAL
    assert not stub.ask("泄露他人信息会被扣几分？").abstained


def test_a_question_about_one_shops_live_facts_is_refused_with_why_and_where_to_look(stub):
    # The topic is taught (泄露他人信息 and its points), this month's figure of one shop is not: a
    # passage sharing the words does not answer it. The reason is said, and the section that
    # teaches the topic is offered.
    live = stub.ask("我们店这个月因为泄露他人信息被扣的分是多少？")
    assert live.abstained and live.citations == ()
    assert live.answer.startswith(LIVE_REFUSAL) and live.suggestions
    rendered = answer_markdown(live)
    assert "实际情况" in rendered and "相近的章节" in rendered and "相近的内容" not in rendered
    assert not stub.ask("泄露他人信息会被扣几分？").abstained


@pytest.mark.parametrize(
    ("question", "live"),
    [
        ("我们店这周的询单转化率是多少？", True),
        ("今天客服排班是怎么排的，我几点能下班？", True),
        ("今年 618 几号开始付定金？", True),
        ("隔壁那家店一个月能卖多少单？", True),
        ("询单转化率是多少算正常？", False),  # no shop, no day: a norm the material may state
        ("买家问今天下午下单什么时候能发", False),  # a situation a learner reports
        ("客户说今天几点前下单能当天发货", False),
        ("我们店询单转化率很低，怎么提高？", False),  # asks how, not a value
    ],
)
def test_which_questions_ask_for_a_shops_or_a_days_facts(question, live):
    assert asks_live_fact(question) is live


def test_a_number_question_quotes_the_figures_with_their_marker(stub):
    answer = stub.ask("泄露他人信息会被扣几分？")
    lines = answer.answer.split("\n")
    assert lines[0].startswith("以下内容摘自")
    # The lead line names each quoted passage by its own heading.
    assert f"[1]（{answer.citations[0].title.split(' › ')[-1]}）" in lines[0]
    assert any("扣6分" in line and line.endswith("[1]") for line in lines[1:])
    assert answer.citations[0].quoted and all(q in answer.citations[0].text for q in answer.citations[0].quoted)


def test_a_yes_no_question_gets_the_rule_first(stub):
    answer = stub.ask("客服可以把客户的订单信息泄露给别人吗？")
    first = answer.answer.split("\n")[1]
    assert "不能" in first and "泄露" in first


def test_a_follow_up_is_read_with_the_previous_turn(stub):
    answer = stub.ask("那情节严重呢？", history=["泄露他人信息会被扣几分？"])
    assert "泄露他人信息" in answer.resolved_query
    assert "48分" in answer.citations[0].text


def test_rendering_escapes_markup_and_highlights_the_quoted_sentence(stub):
    answer = stub.ask("泄露他人信息会被扣几分？<script>alert(1)</script>")
    markdown = answer_markdown(answer)
    html = sources_html(answer)
    assert "<script>" not in markdown and "<script>" not in html
    assert "<mark>" in html and "教材原文" in html and "[1]" in markdown
    refused = answer_markdown(stub.ask("红烧肉怎么做才好吃"))
    assert "教材中没有找到相关内容" in refused and "相近的章节" not in refused


def test_each_marker_links_to_its_passage_under_the_answer(stub):
    answer = stub.ask("泄露他人信息会被扣几分？")
    markdown = answer_markdown(answer)
    assert '<a class="km-cite" href="#km-src-1">[1]</a>' in markdown
    # The answer carries its own passages (shown under it on narrow screens, opened by [n]), each
    # marked with its rank, on one line so Markdown leaves the HTML block whole.
    inline = next(part for part in markdown.split("\n\n") if part.startswith("<div class='km-inline-sources'>"))
    assert "\n" not in inline
    for citation in answer.citations:
        assert f"km-src-{citation.rank}" in inline
    assert "<mark>" in inline


def test_the_naive_recipe_starts_from_its_shipped_vectors(stub, tmp_path, monkeypatch):
    from kefu_mentor.tools import evaluation

    first = evaluation.DefaultRecipe(stub.settings, stub.chunks)
    shipped = tmp_path / "naive_vectors.npz"
    assert evaluation.write_vectors(shipped, first.embedder.id, first.texts, first.vectors)
    assert not evaluation.write_vectors(shipped, first.embedder.id, first.texts, first.vectors)  # unchanged: not rewritten
    monkeypatch.setattr(evaluation, "NAIVE_VECTORS", shipped)
    calls = []
    monkeypatch.setattr(first.embedder, "embed_passages", lambda texts: calls.append(texts))
    fresh = evaluation.DefaultRecipe(stub.settings.with_(cache_dir=tmp_path / "empty"), stub.chunks)
    assert calls == [] and (fresh.vectors == first.vectors).all()


def test_a_long_answer_shows_its_first_part_and_folds_the_rest():
    from kefu_mentor.app.render import MIN_FOLDED_CHARS, OPEN_CHARS, answer_markdown, fold_lines
    from kefu_mentor.schema import Answer

    lines = [f"第{i}句：客服要先核对订单信息，再回答买家的问题，最后确认买家是否清楚<b>。[{1 + i % 2}]" for i in range(20)]
    shown, folded = fold_lines(lines)
    assert shown + folded == lines and shown and folded  # nothing dropped, nothing repeated
    assert sum(map(len, shown)) <= OPEN_CHARS < sum(map(len, shown + folded[:1]))
    # A short answer, or one whose rest is too short to be worth a click, is shown whole.
    assert fold_lines(lines[:3]) == (lines[:3], [])
    assert fold_lines(["甲" * 290, "乙" * (MIN_FOLDED_CHARS - 1)])[1] == []
    assert fold_lines(["甲" * 400, "乙" * 200]) == (["甲" * 400], ["乙" * 200])  # the first line always open

    answer = Answer("核对", "以下内容摘自教材原文[1]：\n" + "\n".join(lines), (), False, 1.0)
    markdown = answer_markdown(answer)
    block = next(part for part in markdown.split("\n\n") if part.startswith("<details class='km-more'>"))
    assert "\n" not in block and f"展开其余 {len(folded)} 句引文" in block
    assert block.count("<li>") == len(folded) and '<a class="km-cite" href="#km-src-2">[2]</a>' in block
    assert "<b>" not in markdown  # escaped in the open part and in the folded one
    assert markdown.count("- 第") == len(shown)
