"""The drill rubric: good replies score well, each forbidden thing is caught and cited."""

from __future__ import annotations

import pytest

from kefu_mentor.modes.drills import DrillCoach, DrillSummary, Rubric, Scenario, load_scenarios
from kefu_mentor.pipeline.embedding import load_embedder

from .conftest import REAL_CORPUS

RUBRIC = REAL_CORPUS / "drills" / "rubric.yaml"


@pytest.fixture(scope="module")
def coach(real_mentor):
    return DrillCoach(load_scenarios(REAL_CORPUS), Rubric.load(RUBRIC), load_embedder(), real_mentor.store.chunks, seed=1)


def _scenario(family: str) -> Scenario:
    return next(s for s in load_scenarios(REAL_CORPUS) if s.family == family)


def test_recommended_reply_scores_high(coach):
    for family in ("催付", "议价", "物流跟踪"):
        scenario = _scenario(family)
        grade = coach.grade(scenario, scenario.reply)
        assert grade.score >= 75, (family, [(i.label, i.passed) for i in grade.items])
        assert all(i.passed for i in grade.items if i.kind == "forbidden")


@pytest.mark.parametrize(
    ("reply", "violation"),
    [
        ("亲，另一个买家的电话是13912345678，您自己联系他吧", "leak"),
        ("亲，保证明天一定能到，绝对不会晚！", "overpromise"),
        ("爱买不买，不买拉倒", "rude"),
        ("亲，加我微信转账可以便宜二十", "off_platform"),
        ("亲，这是全网最低价，质量是最好的！", "absolute"),
    ],
)
def test_forbidden_content_is_caught_and_cited(coach, reply, violation):
    grade = coach.grade(_scenario("议价"), reply)
    item = next(i for i in grade.items if i.key == violation)
    assert not item.passed and item.points < 0
    assert item.basis is not None and item.basis.title  # every rule cites its passage
    assert grade.score < 50


def test_negated_forbidden_word_is_not_a_violation(coach):
    grade = coach.grade(_scenario("催付"), "亲，请只在订单页面付款，不要私下转账哦，有问题随时找我～")
    assert next(i for i in grade.items if i.key == "off_platform").passed


def test_empty_reply_scores_zero_on_elements(coach):
    grade = coach.grade(_scenario("催付"), "")
    assert all(not i.passed for i in grade.items if i.kind == "required")
    assert grade.score < 20


def test_fab_family_requires_feature_advantage_benefit(coach):
    scenario = _scenario("商品咨询与推荐")
    keys = {i.key for i in coach.grade(scenario, scenario.reply).items if i.kind == "required"}
    assert {"feature", "advantage", "benefit"} <= keys


def test_summary_groups_by_family(coach):
    summary = DrillSummary()
    for family in ("催付", "催付", "议价"):
        scenario = _scenario(family)
        summary.add(coach.grade(scenario, scenario.reply))
    rows = {r[0]: r for r in summary.rows()}
    assert rows["催付"][1] == 2 and rows["议价"][1] == 1


def test_rubric_errors_name_the_problem(tmp_path):
    bad = tmp_path / "rubric.yaml"
    bad.write_text(
        RUBRIC.read_text(encoding="utf-8").replace("催付: [greeting, solution, next_step]", "催付: [greeting, telepathy]"),
        encoding="utf-8",
    )
    with pytest.raises(Exception) as info:
        Rubric.load(bad)
    assert "telepathy" in str(info.value)
