"""Chunking: inside one section, on sentence ends, lists with their lead-in, stable ids."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kefu_mentor.config import ChunkerSettings
from kefu_mentor.pipeline.chunking import chunk_sections
from kefu_mentor.pipeline.corpus import load_corpus
from kefu_mentor.schema import Section

from .conftest import MINI_CORPUS, REAL_CORPUS

SENTENCE_ENDS = ("。", "！", "？", "；", "”", "）", ")", "|", ":", "：")


def _section(text: str) -> Section:
    return Section("textbook", "m1t2-k4", ("模块一", "任务二", "四、物流信息"), 15, text, "x.md", 1)


def test_real_chunks_stay_in_sections_and_end_on_sentences():
    corpus = load_corpus(REAL_CORPUS)
    chunks = chunk_sections(corpus.sections, ChunkerSettings())
    texts = {s.text for s in corpus.sections}
    for chunk in chunks:
        if chunk.source != "textbook" or chunk.text in texts:
            continue  # whole sections need no check
        last_line = chunk.text.rstrip().split("\n")[-1]
        # A chunk ends on a sentence end, or on a figure/table caption (a whole line).
        assert last_line.endswith(SENTENCE_ENDS) or re.match(r"^[图表]\s*\d+-\d+", last_line), chunk.text[-30:]


def test_long_section_is_split_without_cutting_sentences():
    sentence = "客服要熟悉商品的材质、尺码和保养方法，才能准确回答客户的问题。"
    text = "\n\n".join(sentence * 3 for _ in range(8))
    chunks = chunk_sections([_section(text)], ChunkerSettings(max_chars=200, min_chars=40, unit_chars=0))
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.count(sentence) * len(sentence) == len(chunk.text.replace("\n", ""))


def test_numbered_list_stays_with_its_lead_in():
    lead = "客服做到以下几点则可以有效地避免经营风险："
    items = [f"({i}) 第{i}点。" + "这一点的说明文字比较长，需要认真阅读并且记住。" * 3 for i in range(1, 7)]
    text = "\n\n".join(["前面是一段与本列表无关的介绍文字。" * 6, lead, *items])
    chunks = chunk_sections([_section(text)], ChunkerSettings(max_chars=260, min_chars=40, unit_chars=0))
    holder = next(c for c in chunks if lead in c.text)
    assert "(1) 第1点" in holder.text


def test_single_item_chunks_get_the_item_in_their_breadcrumb():
    items = [f"({i}) 运输方式{i}。" + "这种运输方式的特点需要客服了解清楚才能回答。" * 5 for i in range(1, 5)]
    chunks = chunk_sections([_section("\n\n".join(items))], ChunkerSettings(max_chars=150, min_chars=20, unit_chars=0))
    assert chunks[0].breadcrumb[-1] == "(1) 运输方式1"


def test_ids_are_stable_and_unique():
    corpus = load_corpus(MINI_CORPUS)
    first = [c.chunk_id for c in chunk_sections(corpus.sections, ChunkerSettings())]
    second = [c.chunk_id for c in chunk_sections(load_corpus(MINI_CORPUS).sections, ChunkerSettings())]
    assert first == second
    assert len(set(first)) == len(first)


def test_breadcrumb_is_embedded_with_the_text():
    # "针对该规则……" is found by the rule's name: each item is embedded under its own heading.
    corpus = load_corpus(MINI_CORPUS)
    chunk = next(c for c in chunk_sections(corpus.sections, ChunkerSettings()) if "针对该规则，客服通过旺旺" in c.text)
    view = next(v for v in chunk.embedding_texts() if "针对该规则，客服通过旺旺" in v and v != chunk.embedding_texts()[0])
    assert view.split("\n")[0].endswith("4. 不能违背承诺")


def test_template_has_one_vector_per_phrasing():
    corpus = load_corpus(MINI_CORPUS)
    template = next(c for c in chunk_sections(corpus.sections, ChunkerSettings()) if c.source == "template")
    assert len(template.embedding_texts()) == 1 + len(template.buyer_says)
    assert template.reply and template.reply in template.text


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("客服买家商品。！？；\n ，(1)（2）：|表图") + ["\n\n", "以下几点：", "(3) 标题。"]),
        min_size=1,
        max_size=300,
    ).map("".join)
)
def test_chunker_never_loses_text(text):
    """Whatever the input, chunks hold every non-space character of the section, in order."""
    if not text.strip():
        return
    chunks = chunk_sections([_section(text)], ChunkerSettings(max_chars=120, min_chars=20, unit_chars=0))
    joined = "".join(c.text for c in chunks)
    squash = lambda s: "".join(s.split())  # noqa: E731
    assert squash(joined) == squash(text)


def test_cards_under_one_subsection_are_one_passage_and_each_card_is_found_by_its_title():
    from kefu_mentor.pipeline.chunking import find_passage

    node = ("模块三", "任务二", "知识储备", "一、订单催付")
    cards = [
        Section("supplement", "m3t2-k1", (*node, "什么是订单催付"), None, "订单催付是提醒拍下未付款的买家完成付款。", "m3.md", 1),
        Section("supplement", "m3t2-k1", (*node, "催付的时机与频率"), None, "同一订单的催付一般以一两次为宜。", "m3.md", 5),
    ]
    (chunk,) = chunk_sections(cards, ChunkerSettings())
    assert chunk.breadcrumb == node and chunk.source == "supplement"
    # Each card's title heads its text in the passage, and each card is its own search vector.
    assert "催付的时机与频率\n同一订单的催付一般以一两次为宜。" in chunk.text
    assert len(chunk.pieces) == 2
    # A quiz key or drill rubric naming a card by its title still finds it, from its title on.
    found = find_passage([chunk], "m3t2", "催付的时机与频率", ("supplement",))
    assert found is not None and found[1].startswith("催付的时机与频率\n同一订单")
    # Off for cards: one passage per card, as before.
    assert len(chunk_sections(cards, ChunkerSettings(topic_sources=("textbook",)))) == 2
