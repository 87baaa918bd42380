"""Quiz checking: exact for choices, tolerant for fill-ins, key points for short answers."""

from __future__ import annotations

import pytest

from kefu_mentor.modes.quiz import build_quiz, check

from .conftest import REAL_CORPUS


@pytest.fixture(scope="module")
def quiz(real_mentor):
    return {q.id: q for q in build_quiz(REAL_CORPUS, real_mentor.store.chunks, "m1", generated=6, seed=3)}


def test_every_answer_key_cites_a_passage_with_page(quiz):
    book = [q for q in quiz.values() if q.origin.startswith("教材")]
    assert len(book) == 10
    for question in book:
        assert question.basis is not None and question.basis.page is not None, question.id
        assert question.basis.label == "教材原文"
    basis = quiz["m1-single-3"].basis
    # Cited with its topic; the excerpt starts at the rule's own heading.
    assert basis.title.endswith("二、平台规则") and basis.excerpt.startswith("3. 不能泄露他人信息") and basis.page == 13


@pytest.mark.parametrize(
    ("qid", "response", "correct"),
    [
        ("m1-single-3", "B", True),
        ("m1-single-3", "b", True),
        ("m1-single-3", "A", False),
        ("m1-multi-2", "ABCD", True),
        ("m1-multi-2", "A,B,C,D", True),
        ("m1-multi-2", "ABC", False),
        ("m1-multi-2", "ABCDE", False),
        ("m1-fill-1", "售前客服、售后客服", True),
        ("m1-fill-1", "售前 售后", True),
        ("m1-fill-1", "售后客服、售前客服", False),
        ("m1-fill-3", "型号，功效", True),
        ("m1-fill-3", "型号", False),
    ],
)
def test_objective_answers(quiz, qid, response, correct):
    assert check(quiz[qid], response).correct is correct


def test_short_answer_is_scored_by_key_points(quiz):
    question = quiz["m1-short-1"]
    full = check(question, "客服能塑造网店形象，提高成交量，优化购物体验，降低经营风险，还能改善服务态度评分。")
    assert full.correct and full.score == 1.0
    partial = check(question, "可以提高成交量。")
    assert not partial.correct and 0 < partial.score < 0.5 and "还可以补充" in partial.feedback


def test_generated_questions_are_answerable_from_their_passage(quiz, real_mentor):
    passages: dict[str, list[str]] = {}
    for chunk in real_mentor.store.chunks:
        passages.setdefault(chunk.title, []).append(chunk.text)
    cloze = [q for q in quiz.values() if q.kind == "cloze"]
    assert cloze
    for q in cloze:
        assert "_____" in q.prompt
        assert check(q, q.blanks[0][0]).correct
        # The sentence, blank filled, stands in the very passage the question cites.
        filled = q.prompt.replace("_____", q.blanks[0][0], 1)
        assert any(filled in text for text in passages[q.basis.title]), q.id
    templates = [q for q in quiz.values() if q.kind == "template"]
    assert templates and all(len(q.options) == 4 and check(q, q.answer).correct for q in templates)
