"""The drill grader: relevant, on the scenario's points, in sentences, polite, no red line; and its command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from kefu_mentor.modes.drills import DrillSummary, Rubric, Scenario, coach_for, load_scenarios, sentence_like
from kefu_mentor.tools import drill_eval

from .conftest import REAL_CORPUS, ROOT

RUBRIC = REAL_CORPUS / "drills" / "rubric.yaml"
FIXTURE = ROOT / "tests" / "data" / "drill_fixture.yaml"


@pytest.fixture(scope="module")
def coach(real_mentor):
    return coach_for(real_mentor, REAL_CORPUS, seed=1)


def _scenario(template_id: str) -> Scenario:
    return next(s for s in load_scenarios(REAL_CORPUS) if s.template_id == template_id)


def test_every_templates_own_reply_scores_high(coach):
    """Our own recommended replies must pass our own grader (and none may cross a red line)."""
    seen, low = set(), []
    for scenario in coach.scenarios:
        if scenario.template_id in seen:
            continue
        seen.add(scenario.template_id)
        grade = coach.grade(scenario, scenario.reply)
        assert all(i.passed for i in grade.items if i.kind == "forbidden"), (scenario.template_id, grade.advice)
        if grade.score < 85:
            low.append(scenario.template_id)
    # Two of 200 at the last measurement (huifang-006, yingjie-010: another family's scenario reads closer).
    assert len(seen) >= 150 and len(low) <= len(seen) // 50, low


def test_kinds_are_in_order_on_a_small_fixture(coach):
    """Better kinds of reply score strictly higher than worse ones for the same buyer."""
    items = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    rows = drill_eval.grade_all(coach, items)
    result = drill_eval.summarise(rows)
    # A paraphrase may tie the recommended reply at 100 (a tie counts as out of order).
    assert result["pairwise"] >= 0.95, result
    for row in rows:
        low, high, _ = drill_eval.BANDS[row["kind"]]
        assert low <= row["score"] <= high, (row["scenario"], row["kind"], row["score"], row["grade"].advice)


@pytest.mark.parametrize(
    ("reply", "violation"),
    [
        ("亲，另一个买家的电话是13912345678，您自己联系他吧", "leak"),
        ("亲，保证明天一定能到，绝对不会晚！", "overpromise"),
        ("爱买不买，不买拉倒", "rude"),
        ("亲，加我微信转账可以便宜二十", "off_platform"),
        ("亲，这是全网最低价，质量是最好的！", "absolute"),
        ("收到货给个五星好评，截图发我返您5元红包～", "review_cashback"),
        ("应该是您下单时点错了颜色，运费您这边出一下哈", "blame"),
        ("亲，这个价只给您留10分钟，马上要自动涨价了～", "false_claim"),
        ("亲，这款米饭煮出来能降血糖，糖尿病人天天吃都没问题～", "false_claim"),
        ("亲别急，我给您改价，按秒杀价算～", "private_deal"),
        ("可以开的，金额想开高一点也行，品名也能写成办公用品～", "invoice"),
        ("您把账号密码和收到的验证码都发我，我帮您登进去看看～", "account"),
        ("您先给我们一个五星好评，好评后我马上给您换货～", "review_cashback"),
        ("刚才住望京花园3号楼的李先生也拍了两件，您放心买～", "leak"),
        ("排队的人多，催也没用，您就等着吧。", "rude"),
        ("积分过期没事，我后台悄悄给您延一年～", "private_deal"),
        # An A-not-A question asks for it: 能不能 is no negation.
        ("换好之后能不能帮忙改成好评呀，我给您发个红包作为补偿", "review_cashback"),
        ("晒图评价后联系客服领取5元红包哦～", "review_cashback"),
        ("您可以把货款直接打到我们公司的银行卡上，能再便宜20元", "off_platform"),
        ("您放心，我们家商品包退包换，明天肯定到～", "overpromise"),
        ("这款是特价清仓商品，店铺规定特价商品不支持七天无理由退货哦", "refuse_return"),
    ],
)
def test_a_red_line_caps_the_score_and_is_cited(coach, reply, violation):
    grade = coach.grade(_scenario("yijia-001"), reply)
    item = next(i for i in grade.items if i.key == violation)
    assert not item.passed and item.basis is not None and item.basis.title  # every rule cites its passage
    assert grade.score <= 15 and item.label in grade.advice


def test_negated_or_warned_forbidden_words_are_not_violations(coach):
    scenario = _scenario("cuifu-001")
    for reply in (
        "亲，请只在订单页面付款，不要私下转账哦，有问题随时找我～",
        "为了您的资金安全，私下转账一旦出问题很难维权，请在平台下单哦",
        "私下转账真不行哈，钱走平台原路退回，您在订单里提个退款就好～",  # refused right after it
        "这个不行哦，我们不加微信的，有问题就在这里找我～",
        "本店所有退款都通过平台原路退回，不进行微信或支付宝私下转账。",  # 不进行 … before it
        "私聊谈钱删评价这种事我们这边不做哦，有问题您在订单里申请售后～",  # 不做 after it
    ):
        items = {i.key: i for i in coach.grade(scenario, reply).items}
        assert items["off_platform"].passed and items["review_cashback"].passed, reply
    # Words that name a rule's topic are not the rule broken: the refund route, a fabric's
    # composition, the needs question, other buyers' reviews, the shipping refund a quality fault
    # earns, a scam warning, a page to look at.
    for reply in (
        "退款会原路退回到您的支付宝账户，到账后您留意一下～",
        "这款面料是100%棉，透气吸汗，贴身穿很舒服～",
        "请问您自己用还是送人呢？我按用途帮您推荐～",
        "您可以看一下其他买家的带图评价，收到后也可以对照吊牌核实～",
        "确认是质量问题的话，来回运费由我们承担，收到后把运费返您～",
        "请谨防有人冒充客服加您微信，退款只会原路退回～",
        "您也可以自己看一下详情页第三张图，尺码表在那里～",
    ):
        grade = coach.grade(scenario, reply)
        assert all(i.passed for i in grade.items if i.kind == "forbidden"), (reply, grade.advice)
    # The buyer decides; a refund for a defect is the rule, not a promise beyond it.
    grade = coach.grade(_scenario("chaping-001"), "东西有毛病就给您办全额退款，好评不好评您自己定就行，不用有负担～")
    items = {i.key: i for i in grade.items}
    assert items["review_cashback"].passed and items["overpromise"].passed


def test_the_conduct_model_catches_what_no_listed_phrase_names_and_spares_our_own_replies(coach):
    """Wiring and the corpus-level check; how well it generalises is `kefu-mentor eval-drills`'s
    business. The reply is a dev example no phrase of the rubric names (a false claim about
    another shop's batteries)."""
    assert coach.conduct is not None
    reply = "亲，必须用我们家原装电池才行，别家电池一装就会烧坏，而且不给保修哦，建议直接一起拍～"
    grade = coach.grade(_scenario("guanlian-003"), reply)
    item = next(i for i in grade.items if i.key == "conduct")
    assert not item.passed and item.basis is not None and "平台规则" in item.basis.title
    assert grade.score <= 15 and "平台规则" in grade.advice
    flagged = []
    for scenario in {s.template_id: s for s in coach.scenarios}.values():
        for turn in (scenario, scenario.second_turn()):
            if turn is not None and not next(i for i in coach.grade(turn, turn.reply).items if i.key == "conduct").passed:
                flagged.append(turn.template_id)
    assert not flagged, flagged


def test_a_curt_reply_on_topic_ranks_above_a_polished_reply_to_another_buyer(coach):
    """Curt and naming nothing specific is 一般; whole but about another scenario is 答非所问.
    Both used to end at the same cap and tie."""
    scenario = _scenario("tuihuan-010")
    curt = coach.grade(scenario, "亲，我帮你催一下仓库。")
    elsewhere = coach.grade(scenario, "亲，可以的～我们有礼盒包装，加5元就行，贺卡免费送，您把想写的话发我，我备注给仓库放进去～")
    assert 40 <= curt.score <= 65 and elsewhere.score <= 40 and curt.score > elsewhere.score


def test_a_reply_that_names_the_scenarios_key_points_is_not_capped_as_off_topic(coach):
    """The embedding reads this closing-turn reply as closer to an after-sales scenario, but it
    says what the recommended reply says (a dev example): not 答非所问."""
    scenario = _scenario("jieshu-002")
    reply = "好的亲，那就按刚才说的，我今天给您登记补发一个新杯盖，明天中午前从仓库发出，单号出来我第一时间发给您。还有别的问题随时找我哈～"
    grade = coach.grade(scenario, reply)
    assert grade.score > 40, grade.advice


def test_a_curt_reply_is_at_most_mediocre_and_told_why(coach):
    """Right direction, one line: "一般", not "好" (the rubric's form.short_cap)."""
    scenario = _scenario("cuifu-001")
    curt = coach.grade(scenario, "好的亲，晚点记得付款。")
    item = next(i for i in curt.items if i.key == "thorough")
    assert not item.passed and "推荐回复有" in item.evidence
    assert 40 <= curt.score <= 65 and "简短" in curt.advice
    full = coach.grade(scenario, scenario.reply)
    assert next(i for i in full.items if i.key == "thorough").passed and full.score > 65


def test_the_scenarios_own_avoid_text_is_checked(coach):
    scenario = _scenario("tuihuan-001")
    grade = coach.grade(scenario, "亲，为什么不喜欢呀？真的要退吗？")
    item = next(i for i in grade.items if i.key == "avoid")
    assert not item.passed and "不要这样说" in item.label and item.basis is not None


def test_a_word_list_is_not_a_reply(coach):
    assert not sentence_like("您好 抱歉 理解 优惠 活动 到手价 下单 请问")[0]
    assert sentence_like("您好，这款现在有满减活动，用券后到手价更划算，您看要不要下单？")[0]
    grade = coach.grade(_scenario("yijia-001"), "您好 抱歉 理解 优惠 活动 到手价 下单 请问")
    assert grade.score <= 30 and "完整的句子" in grade.advice


def test_empty_reply_scores_nothing(coach):
    grade = coach.grade(_scenario("cuifu-001"), "")
    assert grade.score == 0 and all(not i.passed for i in grade.items if i.kind == "required")


def test_fab_family_requires_feature_advantage_benefit(coach):
    scenario = next(s for s in load_scenarios(REAL_CORPUS) if s.family == "商品咨询与推荐")
    keys = {i.key for i in coach.grade(scenario, scenario.reply).items if i.kind == "required"}
    assert {"feature", "advantage", "benefit"} <= keys


def test_summary_groups_by_family(coach):
    summary = DrillSummary()
    for template_id in ("cuifu-001", "cuifu-002", "yijia-001"):
        scenario = _scenario(template_id)
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


@pytest.mark.slow
def test_the_drill_command_reads_and_writes_json_lines(real_settings):
    lines = [
        {"scenario": "yijia-001", "reply": "理解您～这款价格统一没法改，不过现在有满减券，我帮您算下到手价？"},
        {"scenario": "no-such-template", "reply": "您好"},
        {"scenario": "yijia-001", "reply": "   "},
        "not json",
        {"scenario": "cuifu-001", "reply": "好的亲，记得在订单关闭前付款哦，付款后我们尽快发货～"},
        '{"scenario": "cuifu-001", "reply": "\\ud800"}',
        {"scenario": "cuifu-001", "turn": 2, "reply": "亲，付款后我们会尽快安排发货，有问题随时找我～"},
        {"scenario": "cuifu-001", "turn": 3, "reply": "好的"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "kefu_mentor.tools.cli",
            "drill",
            "--json",
            "-",
            "--index",
            str(real_settings.index_dir),
            "--corpus",
            str(real_settings.corpus_dir),
            "--cache",
            str(real_settings.cache_dir),
        ],
        input=stdin.encode(),
        capture_output=True,
        cwd=ROOT,
        timeout=300,
    )
    out = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert run.returncode == 0 and len(out) == 8, run.stderr.decode()[-2000:]
    first = out[0]
    assert first["scenario"] == "yijia-001" and 0 <= first["score"] <= 100 and first["advice"]
    assert {"key", "label", "passed", "points", "why", "basis"} <= set(first["items"][0])
    assert any(i["basis"] and i["basis"]["title"] for i in first["items"])
    assert "没有这个场景" in out[1]["error"] and out[1]["scenario"] == "no-such-template"
    assert "回复是空的" in out[2]["error"]
    assert "不是合法的 JSON" in out[3]["error"]
    assert "score" in out[4]
    assert "孤立" in out[5]["error"]  # a lone surrogate is an error line, not a crash
    assert out[6]["turn"] == 2 and "score" in out[6] and first["turn"] == 1  # the second turn, graded on its own reply
    assert "turn 只能是 1 或 2" in out[7]["error"]


@pytest.mark.slow
@pytest.mark.parametrize("split", ["dev", "test"])
def test_graded_replies_land_in_their_bands(coach, split):
    """The blind graded set (eval/drills). The issue's targets (≥ 0.9 per kind, ≥ 0.95 in order) are
    not all met on the held-out split (docs/evaluation.md has the figures): these floors catch a
    regression, they are not the target."""
    result = drill_eval.summarise(drill_eval.grade_all(coach, drill_eval.load(split, ROOT / "eval" / "drills")))
    assert result["pairwise"] >= 0.85, result
    # Rule breaking worded in ways no list foresees is the weak kind on the held-out batch (0.53 in
    # band at its one measurement; the grader before: 0.50).
    assert all(k["in_band"] >= 0.5 for k in result["kinds"].values()), result["kinds"]
    assert result["kinds"]["recommended"]["in_band"] >= 0.9 and result["kinds"]["keyword_salad"]["in_band"] >= 0.9


def test_a_drill_has_a_second_turn_graded_against_its_own_reply(coach):
    firsts = {s.template_id: s for s in load_scenarios(REAL_CORPUS)}
    seconds = [s.second_turn() for s in firsts.values()]
    assert all(seconds) and all(s.turn == 2 and s.second_turn() is None for s in seconds)
    # The follow-up's own recommended reply passes and, like the first turn's, never crosses a red
    # line (two once did: a refund back to 支付宝, 其他顾客的信息我们不能透露); a reply written for
    # the first turn is a different message and does not earn the second turn's key points in full.
    grades = [coach.grade(s, s.reply) for s in seconds]
    crossed = [
        (s.template_id, i.evidence)
        for s, g in zip(seconds, grades, strict=True)
        for i in g.items
        if i.kind == "forbidden" and not i.passed
    ]
    assert not crossed, crossed
    assert sum(g.score >= 85 for g in grades) / len(grades) >= 0.95
    second = next(s for s in seconds if s.template_id == "tuihuan-001")
    said = next(p for p in coach._avoid_phrases(second))
    item = next(i for i in coach.grade(second, f"亲，{said}。").items if i.key == "avoid")
    assert not item.passed and second.avoid in item.evidence


def test_the_reply_family_model_learns_which_family_a_reply_answers(tmp_path):
    """On a small fixture (seconds, made-up vectors): fit, read, save and load, and a model
    trained for another embedder is not used."""
    import numpy as np

    from kefu_mentor.modes.drills import ReplyFamilies

    rng = np.random.default_rng(0)
    centres = {"议价": rng.normal(size=16), "物流跟踪": rng.normal(size=16)}
    texts, labels, vectors = [], [], []
    for family, words in (("议价", "优惠 到手价 改价"), ("物流跟踪", "快递 单号 发货")):
        for n in range(12):
            texts.append(f"亲，{words.split()[n % 3]}的事我帮您看一下")
            labels.append(family)
            vectors.append(centres[family] + 0.3 * rng.normal(size=16))
    vectors = np.array(vectors) / np.linalg.norm(vectors, axis=1, keepdims=True)
    model = ReplyFamilies.fit(vectors, texts, labels, "fake:embedder", keys=["yijia-001#1"])
    assert model.read_as == {"yijia-001#1": "议价"}  # what the first (recommended) reply reads as
    parcel = centres["物流跟踪"] / np.linalg.norm(centres["物流跟踪"])
    assert model.probability(parcel, "亲，快递单号我发您", "物流跟踪") > 0.8
    assert model.probability(parcel, "亲，快递单号我发您", "议价") < 0.2
    assert model.probability(parcel, "亲", "从没见过的类别") == 0.0
    model.save(tmp_path / "relevance.npz")
    again = ReplyFamilies.load(tmp_path / "relevance.npz")
    assert again is not None and again.embedder_id == "fake:embedder" and again.read_as == model.read_as
    assert again.probability(parcel, "亲，快递单号我发您", "物流跟踪") == pytest.approx(
        model.probability(parcel, "亲，快递单号我发您", "物流跟踪")
    )
    assert ReplyFamilies.load(tmp_path / "missing.npz") is None


def test_relevance_comes_from_the_reply_family_model_when_it_fits_the_embedder(coach):
    """The shipped model is used; a reply to another family's buyer fails relevance, a good
    reply in a trainee's own words passes it (dev examples)."""
    assert coach.reply_families is not None and coach.reply_families.embedder_id == coach.embedder.id
    scenario = _scenario("tuihuan-010")
    elsewhere = coach.grade(scenario, "亲，可以的～我们有礼盒包装，加5元就行，贺卡免费送，您把想写的话发我，我备注给仓库放进去～")
    own = coach.grade(
        scenario,
        "真不好意思让您等这么久！我这就去查退件的签收记录，再找仓库问验收到哪一步了，今天下午5点前一定回您。",
    )
    relevance = {g: next(i for i in g.items if i.key == "relevance") for g in (elsewhere, own)}
    assert not relevance[elsewhere].passed and relevance[own].passed
