"""Redaction measured on the blind privacy set, and kept away from what must not change."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kefu_mentor.modes.redact import find, redact
from kefu_mentor.tools import privacy

from .conftest import ROOT

DATA = ROOT / "eval" / "privacy"


# Names and addresses in free text reach the issue's 0.95 on fresh realistic lines, not on fresh
# sets written to be hard (names 0.93 on the 22nd, docs/reliability.md): these floors catch a
# regression, they are not the target.
FLOORS = {"姓名": 0.90, "地址": 0.90}


@pytest.mark.parametrize("split", ["dev", "test"])
def test_recall_per_type_and_clean_lines_meet_the_targets(split):
    results = privacy.evaluate(privacy.load(split, DATA))
    assert results["spans"]["姓名"] >= 40 and results["clean_lines"] >= 50
    wanted = {**privacy.TARGETS, **FLOORS}
    short = {t: r for t, r in results["recall"].items() if r < wanted.get(t, 0.0)}
    assert not short, short
    assert results["clean_changed"] <= privacy.MAX_CLEAN_CHANGED


def test_learners_questions_without_personal_data_come_through_unchanged():
    """Every blind golden question (exam wording, colloquial situations, buyer lines): a name
    detector that fires on 客户关系 or 买家付完款 would spoil the teacher's gap view."""
    questions = []
    for path in sorted((ROOT / "eval" / "blind").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data if isinstance(data, list) else data.get("questions", []):
            if isinstance(item, dict) and (item.get("question") or item.get("text")):
                questions.append(item.get("question") or item.get("text"))
    assert len(questions) > 300
    changed = [q for q in questions if redact(q) != q]
    # One holds a real tracking number ("中通单号 7589…"); at the last measurement two others lost a
    # word to the learned name reading (塞张贺卡, 师傅说: 3 of 447).
    assert len(changed) <= len(questions) // 100, changed


@pytest.mark.parametrize(
    ("text", "secret", "label"),
    [
        ("送到 杭州 西湖区 文三路 90 号", "文三路 90 号", "[地址]"),
        ("上海浦东新区世纪大道100号 前台签收", "世纪大道100号", "[地址]"),
        ("广东深圳南山区科技园南区R2-B栋", "R2-B栋", "[地址]"),
        ("银行卡 6222 0212 3456 7890 128 退这里", "7890 128", "[银行卡号]"),
        ("加我vx：abc_12345 发图", "abc_12345", "[微信号]"),
        ("QQ是 2847561930", "2847561930", "[QQ号]"),
        ("我叫李雷 衣服小了", "李雷", "[姓名]"),
        ("张三 138 1234 5678", "张三", "[姓名]"),
        ("座机０３７１－６５４３２１９８找我", "６５４３２１９８", "[电话]"),
        ("买家热依拉·艾买提 要换大一码", "热依拉·艾买提", "[姓名]"),
        ("打这个 找Kevin Zhang就行", "Kevin", "[姓名]"),
    ],
)
def test_the_kinds_the_issue_names_are_replaced_by_their_label(text, secret, label):
    cleaned = redact(text)
    assert secret not in cleaned and label in cleaned, cleaned


@pytest.mark.parametrize(
    "text",
    [
        "170/92A 穿M还是L",
        "到手价199 满300减30",
        "王者荣耀皮肤送吗",
        "马上要用 黄色的有吗",
        "发往新疆吗",
        "客户关系管理包括哪些",
        "DSR评分4.8",
    ],
)
def test_ordinary_shop_talk_is_left_alone(text):
    assert find(text) == [] and redact(text) == text


@pytest.mark.parametrize(
    ("text", "kept_out", "labels"),
    [
        # A number at the end of an address is its own finding, with its own label.
        ("陶子涵 武汉市 洪山区 珞喻路 12号 光谷大厦 9楼 027-87651234", "87651234", ["[地址]", "[电话]"]),
        # Any "…卡" names a card, though 邮政 is also a carrier.
        ("退到我邮政卡 6230 5211 0098 7741 吧", "0098", ["[银行卡号]"]),
        # A contact detail right after its owner's name.
        ("龚文博手机 139 0571 2288 晚上打", "龚文博", ["[姓名]", "[手机号]"]),
    ],
)
def test_contact_numbers_keep_their_own_label_and_mark_their_owner(text, kept_out, labels):
    cleaned = redact(text)
    assert kept_out not in cleaned and all(label in cleaned for label in labels), cleaned


@pytest.mark.parametrize(
    ("text", "secret", "label"),
    [
        # A flat however the estate is named: building + entrance + room, the estate's name before it.
        ("寄到 翠湖花园 7号楼 3单元 502室", "翠湖花园 7号楼 3单元 502室", "[地址]"),
        ("放到南湖东园三区12幢1单元801 谢谢", "南湖东园三区12幢1单元801", "[地址]"),
        ("我在 江城大学 西校区 6 舍 214", "江城大学 西校区 6 舍 214", "[地址]"),
        # A gazetteer short form and the level word it leaves off (黔东南 + 州).
        ("贵州黔东南州 榕江县 古州镇 车江村 4 组", "车江村 4 组", "[地址]"),
        # A name told by what stands after it: a title, something a person does, 收.
        ("鲁思涵同学的教材到了吗", "鲁思涵", "[姓名]"),
        ("柏振东来电，要求改时间", "柏振东", "[姓名]"),
        ("放门卫，后勤处卜晓霞收", "卜晓霞", "[姓名]"),
        # After a verb, when jieba also reads a person there; a second spelling of a name.
        ("麻烦给贺欣妍打个电话", "贺欣妍", "[姓名]"),
        ("收件人写成了吕晓 应该是吕骁", "吕晓", "[姓名]"),
        # A compound surname anywhere, and a transliterated name without its dot after a cue.
        ("令狐婧来电询问发票", "令狐婧", "[姓名]"),
        ("买家艾克拜尔吐尔逊要求退货", "艾克拜尔吐尔逊", "[姓名]"),
    ],
)
def test_names_and_flats_are_told_by_what_stands_around_them(text, secret, label):
    cleaned = redact(text)
    assert secret not in cleaned and label in cleaned, cleaned


@pytest.mark.parametrize(
    "text",
    [
        "海天酱油 1.9L 还有吗",  # a brand and a quantity
        "戴尔 XPS13 有现货吗",  # a brand and a model
        "周黑鸭的鸭脖辣不辣",  # a brand and something no person owns
        "收纳柜 5 层 2 门的多少钱",  # a floor and a door are furniture
        "安徽黄山毛峰 250g 多少钱",  # an origin and a weight, not an address
        "亲，包裹已由中通揽收",  # 揽收 is one word
        "培训时讲师说要先道歉",  # a surname character inside running text
        "是顺丰还是中通",
    ],
)
def test_brands_quantities_and_running_text_are_left_alone(text):
    assert redact(text) == text, redact(text)


def test_the_library_prints_nothing_on_our_stdout(capsys):
    """jionlp prints a banner on import; `ask --json -` writes JSON Lines to stdout."""
    import subprocess
    import sys

    code = "from kefu_mentor.modes.redact import redact; print(redact('电话13812345678'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120).stdout
    assert out == "电话[手机号]\n"


def test_an_upload_named_after_a_buyer_is_stored_under_a_redacted_name(tmp_path):
    import shutil

    from kefu_mentor import Settings
    from kefu_mentor.modes.uploads import preview

    from .conftest import MINI_CORPUS

    corpus = shutil.copytree(MINI_CORPUS, tmp_path / "corpus")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", embedder="hash:64")
    path = Path(tmp_path / "买家张三投诉记录_13812345678.md")
    path.write_text("# 投诉处理\n\n买家投诉物流慢，已安抚并补偿优惠券。\n", encoding="utf-8")
    prepared = preview(settings, path, "teacher")
    assert "13812345678" not in prepared.stored + prepared.markdown + prepared.name
    assert "张三" not in prepared.name and "[手机号]" in prepared.name


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # Parts separated by spaces, with a name between them that ends in no street word.
        ("寄到 杭州市余杭区 文一西路 青禾云栖 菜鸟驿站", "杭州市余杭区 文一西路 青禾云栖 菜鸟驿站"),
        # A pickup point after an estate, no gazetteer name and no number.
        ("放 春晓苑小区北门丰巢柜 谢谢", "春晓苑小区北门丰巢柜"),
        # A campus named before its area and dormitory.
        ("寄到 东岭大学 南区 竹园7舍", "东岭大学 南区 竹园7舍"),
        # A road's numbered section, a ward's nurses' station.
        ("寄 西昌市长安街道航天大道三段 邛海湾小区", "西昌市长安街道航天大道三段 邛海湾小区"),
    ],
)
def test_addresses_typed_in_space_separated_parts(text, address):
    spans = [text[s.start : s.end] for s in find(text) if s.kind == "address"]
    assert address in spans, spans


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("漆远航 13912345678 送到门口", "漆远航"),  # a rarer surname, beside a phone number
        ("请帮我查一下祝晓彤的订单", "祝晓彤"),  # the owner of an order
        ("联系人 付强 022-23285671", "付强"),  # a name that is also a dictionary verb, in its field
        ("收件人 夏天 手机号 13772035186", "夏天"),  # … or a time word
        ("vx zhuo_ma88 我叫卓玛 团购的事", "卓玛"),  # no Han surname, after 我叫
        ("收件人 Lin Yuxuan 手机 +86-150-6642-3198", "Lin Yuxuan"),  # in pinyin
        ("我是 热依拉，订单还没到", "热依拉"),  # no Han surname, after 我是 (the pinyin check must not hide it)
        ("巴特尔 收 锡林浩特市 额尔敦街 12号", "巴特尔"),  # 收 after a space
    ],
)
def test_names_told_by_the_record_around_them(text, name):
    assert name not in redact(text), redact(text)


def test_a_shop_links_item_id_is_not_an_order_number():
    link = "https://item.taobao.com/item.htm?id=675432198765 这个链接是你们家的吗"
    assert redact(link) == link
    assert "675432198765" not in redact("订单号 675432198765 还没发货")


@pytest.mark.parametrize("text", ["不要放驿站 谢谢", "顾客 13912345678 来电问发货"])
def test_pickup_points_and_roles_alone_stay(text):
    assert "驿站" in redact(text) or "顾客" in redact(text)


# -- the learned name reading ---------------------------------------------------------------------
def _fixture_lines() -> list[dict]:
    """Names in two contexts the rules do not list (a role word before, 的 + 快递 after), clean
    lines with the same words around ordinary ones; two batches for leaving one out."""
    names = ["卢佳", "许静", "邵海峰", "贺晓雯", "曹国栋", "韩梦琪", "孔德明", "秦雅婷"]
    lines = []
    for k, name in enumerate(names):
        origin = f"b{k % 2}"
        for text in (f"请找前台{name}拿一下", f"{name}的快递到了没 帮看看"):
            lines.append({"text": text, "spans": [{"type": "姓名", "text": name}], "origin": origin})
    for k, word in enumerate(["马上", "高兴", "方便", "明天", "白色", "安装", "黄色款", "金属的"]):
        lines.append({"text": f"前台说{word}就可以了", "spans": [], "origin": f"b{k % 2}"})
    return lines


def test_the_name_model_learns_a_name_from_its_context(tmp_path):
    model = privacy.train_names(_fixture_lines(), 0.5, extra=[], path=tmp_path / "names.json")
    # A surname and given name never seen in training, in a trained context: read as a name.
    assert [("请找前台严子墨拿一下"[s.start : s.end]) for s in model.spans("请找前台严子墨拿一下")] == ["严子墨"]
    # The same context around ordinary words is not.
    assert model.spans("前台说高兴就可以了") == []
    # Through find(): the learned reading is added to the rules' findings, or left out with None.
    assert "[姓名]" in "".join(s.label for s in find("请找前台严子墨拿一下", model))
    loaded = type(model).load(tmp_path / "names.json")
    assert loaded.threshold == 0.5
    assert loaded.spans("请找前台严子墨拿一下") == model.spans("请找前台严子墨拿一下")


def test_skipping_hopeless_candidates_changes_no_finding():
    """NameModel.scored skips the costly features when they cannot lift a candidate to the
    threshold: the names it finds must be those found by scoring every candidate in full."""
    from kefu_mentor.modes.redact import name_model

    model = name_model.model()
    assert model is not None, "the shipped name model (kefu_mentor/modes/redact/data/name_model.json) is missing"
    texts = [line["text"] for line in privacy.load("dev", DATA)[::25]]
    for text in texts:
        full = sorted(model.scored(text, 0.0), reverse=True)
        want, used = [], set()
        for p, start, end in full:
            if p >= model.threshold and used.isdisjoint(range(start, end)):
                want.append((start, end))
                used.update(range(start, end))
        assert [(s.start, s.end) for s in model.spans(text)] == want, text
        assert len(model.scored(text, model.threshold)) <= len(full)


def test_a_model_number_after_a_word_is_never_a_learned_name():
    from kefu_mentor.modes.redact import name_model

    model = name_model.NameModel({"bias": 30.0}, 0.5)  # reads every candidate as a name
    assert all(s.start >= 2 for s in model.spans("戴尔 XPS13 有现货吗"))
    assert all(s.end != 4 for s in model.spans("黄山毛峰 250g"))  # what ends at the weight is a product
    assert [(s.start, s.end) for s in model.spans("找戴尔拿")] != []


def test_cross_validation_leaves_each_batch_out(tmp_path):
    summary = privacy.cross_validate(_fixture_lines())
    assert set(summary) == {"rules", *(f"{t:.1f}" for t in privacy.THRESHOLDS)}
    for row in summary.values():
        assert set(row["by_batch"]) == {"b0", "b1"}
        assert 0.0 <= row["names"] <= 1.0 and 0.0 <= row["clean_changed"] <= 1.0
    # Trained on one batch, the model finds names in the other that the rules miss.
    assert summary["0.5"]["names"] > summary["rules"]["names"]


def test_an_address_never_starts_inside_a_name_found_before_it():
    from kefu_mentor.modes.redact import Span, _after_names

    text = "客户严子墨改寄天津市南开区卫津路94号"
    name, address = Span(2, 5, "name"), Span(4, len(text), "address")
    trimmed = _after_names([address, name])
    assert trimmed[0] == Span(5, len(text), "address") and trimmed[1] == name
    # With no name across its start, an address is left as it is.
    assert _after_names([Span(7, len(text), "address"), name])[0] == Span(7, len(text), "address")


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("电话 1591 2345 678 白天打", "1591 2345 678"),  # four, four, three
        ("手机159-123-45678", "159-123-45678"),
        ("+86 1591 2345 678", "1591 2345 678"),
    ],
)
def test_a_mobile_number_in_any_grouping_of_three_digits_or_more(text, phone):
    cleaned = redact(text)
    assert phone not in cleaned and "[手机号]" in cleaned, cleaned


def test_price_lists_barcodes_and_doubled_words_are_not_personal_data():
    # Groups shorter than three digits: a list of prices, not a phone number.
    assert redact("三个价位 159 299 399 59 选哪个") == "三个价位 159 299 399 59 选哪个"
    # A Chinese EAN-13 barcode (prefix 69, valid check digit) is the product's number; the same
    # digits after 订单号 are an order number.
    assert redact("包装上的 6921168509256 扫不出来") == "包装上的 6921168509256 扫不出来"
    assert "6921168509256" not in redact("订单号 6921168509256")
    # A doubled character beside a phone number is a word, not a surname and its given name.
    assert redact("13800001111 谢谢") == "[手机号] 谢谢"


def test_brands_and_famous_figures_are_not_names_unless_a_person_is_meant():
    # Words from the table (a brand, a poet, a novel's heroine) with nothing around them saying
    # a person is meant come through, whatever reading found them.
    for text in ("王老吉 一箱几罐", "李白 诗集 有注音版吗", "林黛玉同款发簪"):
        assert redact(text) == text, redact(text)
    # A cue before, a title or a person's verb after, or a phone number close by: a person.
    for text in ("收件人李白", "朋友李白买的", "李白先生来电", "李白 13800001111"):
        assert "李白" not in redact(text) and "[姓名]" in redact(text), redact(text)


@pytest.mark.parametrize(
    ("text", "secret", "label"),
    [
        ("配送员邱海涛放错柜子了", "邱海涛", "[姓名]"),  # whoever does a job: …员
        ("售后客服蓝晓雯答应补发", "蓝晓雯", "[姓名]"),
        ("实名 甄慧敏 已核验", "甄慧敏", "[姓名]"),  # a name given as a field of its own
        ("联系人：Oliver 明天到", "Oliver", "[姓名]"),  # one English word after a person's field
        ("这单之前是童嘉怡跟进的", "童嘉怡", "[姓名]"),  # what an agent does with an order
        ("订单 40719385 还没发", "40719385", "[订单号]"),  # short, but after 订单
    ],
)
def test_roles_fields_and_agent_verbs_mark_a_name(text, secret, label):
    # The rules alone: the learned reading may find some of these anyway.
    start = text.index(secret)
    spans = find(text, name_model=None)
    assert any(s.start <= start and start + len(secret) <= s.end and s.label == label for s in spans), spans


@pytest.mark.parametrize(
    ("text", "secret", "label"),
    [
        ("顺丰 SF 2071 4456 0938 1 明天到", "4456 0938", "[快递单号]"),  # read out in groups
        ("座机 021-6234 8810 分机305", "分机305", "[电话]"),
        ("收件人写秋天 别写店名", "秋天", "[姓名]"),  # the field's own verb sets an ordinary word apart
        ("俞静 江涛 柏林 三个人分开打包", "江涛", "[姓名]"),  # the others in a list of names
    ],
)
def test_grouped_tracking_extensions_field_verbs_and_lists(text, secret, label):
    cleaned = redact(text)
    assert secret not in cleaned and label in cleaned, cleaned


@pytest.mark.parametrize(
    ("text", "secret", "label"),
    [
        ("订单号 3390 1287 6654 2018 帮我查", "6654 2018", "[订单号]"),  # grouped after an order's cue
        ("退到尾号 370 的卡 6228 4804 0256 4891 370", "0256 4891", "[银行卡号]"),  # a card named by its last digits
        ("韵达单号 431 7789 2206 15 没动静", "7789 2206", "[快递单号]"),
        ("转售后部温子轩处理", "温子轩", "[姓名]"),  # a department before a name
        ("早班伍思远交给晚班处理", "伍思远", "[姓名]"),  # a shift before a name
    ],
)
def test_grouped_order_numbers_departments_and_shifts(text, secret, label):
    cleaned = redact(text)
    assert secret not in cleaned and label in cleaned, cleaned


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("寄到 南昌市东湖区 八一大道 368号 省农行大楼 6楼 信贷部 给我", "信贷部"),  # a department on the floor
        ("收货 衢州市柯城区 石梁镇 大坪村 村委会 老周", "村委会"),
        ("地址 银川市兴庆区解放西街 收件人填我", "银川市兴庆区解放西街"),  # two levels and a road, no number
    ],
)
def test_departments_village_committees_and_roads_without_a_number(text, address):
    cleaned = redact(text)
    assert address not in cleaned and "[地址]" in cleaned, cleaned


def test_a_record_with_an_address_is_not_a_list_of_names():
    from kefu_mentor.modes.redact import Span
    from kefu_mentor.modes.redact.names import listed_names

    text = "杭州市西湖区 龙井村 明前茶 多少钱"
    address, inside, beside = Span(0, 10, "address"), Span(7, 10, "name"), Span(11, 14, "name")
    # Two names in a run would make 多少钱 a third, but the run holds an address: no list.
    assert listed_names(text, [address, inside, beside]) == []
    assert Span(15, 18, "name") in listed_names(text, [inside, beside])


@pytest.mark.parametrize(
    ("text", "secret", "label"),
    [
        ("帮我看下订单号 JD20250101998877665 到哪了", "20250101998877665", "[订单号]"),  # a letter prefix
        ("订单PDD2411086655443和PDD2411086655444一起退", "PDD2411086655444", "[订单号]"),  # the second of two
        ("我是Jennifer 上周买的裙子还没发", "Jennifer", "[姓名]"),  # an English given name
        ("Hi Natalie, 退款已原路退回", "Natalie", "[姓名]"),
        ("客户Daniel Smith 要英文发票", "Smith", "[姓名]"),  # a cue: the surname after it too
        ("收件人 欧阳 娜 电话 139 0000 1234", "欧阳 娜", "[姓名]"),  # typed with a space between
        ("帮吉克阿果查一下物流", "吉克阿果", "[姓名]"),  # a Yi name: clan name and given name
        ("寄件人周到，东西已经寄回", "周到", "[姓名]"),  # a word closed off in a person's field
    ],
)
def test_letter_prefixed_orders_english_spaced_and_yi_names(text, secret, label):
    cleaned = redact(text)
    assert secret not in cleaned and label in cleaned, cleaned


@pytest.mark.parametrize(
    "text",
    ["Tom Ford 口红 999 还有吗", "Coco 香水 有小样吗", "型号 ABC12345678 还有货吗", "拉布拉多犬粮 有吗"],
)
def test_english_brands_model_numbers_and_dog_breeds_stay(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("原地址 苏州市工业园区星湖街 改一下", "星湖街"),  # two levels and a street word, no number
        ("改址 原址 宁波鄞州区 新址待定", "宁波鄞州区"),  # two levels alone, in an address field
    ],
)
def test_two_levels_with_a_street_word_or_in_an_address_field(text, address):
    cleaned = redact(text)
    assert address not in cleaned and "[地址]" in cleaned and "原" in cleaned, cleaned


def test_provinces_in_a_shipping_rule_and_a_field_label_stay():
    assert redact("新疆 西藏 不包邮 补运费链接 https://x.cn/a") == "新疆 西藏 不包邮 补运费链接 https://x.cn/a"
    assert "原地址" in redact("改址：原地址 苏州市工业园区星湖街 改为 新地址")


@pytest.mark.parametrize(
    ("text", "secret", "label"),
    [
        ("我那个单子 5120 8834 2290 1176 咋还没发", "2290 1176", "[订单号]"),  # 单子 is an order's cue
        ("订单号 PDD250301-882716450913 缺货", "882716450913", "[订单号]"),  # prefix, date, dash
        ("退款卡户主孟庆春，已核对", "孟庆春", "[姓名]"),
        ("buyer Liam O'Brien wants a refund", "O'Brien", "[姓名]"),  # a surname with an apostrophe
        ("寄到 台北市大安區忠孝東路四段100號5樓", "忠孝東路", "[地址]"),  # traditional characters
    ],
)
def test_order_cues_field_owners_apostrophes_and_traditional_addresses(text, secret, label):
    cleaned = redact(text)
    assert secret not in cleaned and label in cleaned, cleaned


def test_a_number_read_out_with_yao_is_not_simplified_away():
    assert "五五零九" not in redact("电话 幺三八 二一六七 五五零九")


@pytest.mark.parametrize("text", ["卡是6217 0031 2000 4587 319 建行的", "我的卡号 622260 2005 0011 2349 交通银行"])
def test_a_card_in_groups_is_a_card_even_when_made_up_or_grouped_six_first(text):
    cleaned = redact(text)
    assert "[银行卡号]" in cleaned and "2000" not in cleaned and "0011" not in cleaned, cleaned
