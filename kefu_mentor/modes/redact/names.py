"""Person names in free text: after a cue, next to a number or a field, with a title or a verb
after them, opening a sentence, without a Han surname … each finder here asks `name_reading`
whether the characters it points at read as a name."""

from __future__ import annotations

import re
from functools import lru_cache

from ._common import _QUANTITY, DATA, Span, table_rows
from .library import _place_at
from .name_reading import (
    _COMPOUND_RE,
    _COMPOUND_WORDS,
    _CUE_END,
    _CUE_GAP,
    _MINORITY,
    _MINORITY_RUN,
    _NAME_CUE,
    _NOT_GIVEN,
    _NOT_GIVEN_TAGS,
    _PERSON_FIELDS,
    _PERSON_VERB,
    _PERSONAL,
    _ROLE,
    _TITLE,
    _TITLE_AFTER,
    _about_person,
    _after_cue_or_break,
    _brand_after,
    _cjk,
    _field_name_at,
    _foreign_name,
    _given_ok,
    _known,
    _name_at,
    _name_before,
    _name_initial,
    _name_tokens,
    _posseg,
    _product_after,
    _reads_as_name,
    _surname_at,
    _tag,
    _tagged_as_name,
    _third_character,
)

_SELF_NAMING = frozenset(("我叫", "名字叫", "名字是", "叫做"))
# A name in pinyin or English, capitalised: Lin Yuxuan, Wang Shuting.
_LATIN_NAME = re.compile(r"[A-Z][a-z]{1,12}(?: [A-Z][a-z]{1,12}){1,2}(?![A-Za-z])")
_LATIN_WORD = re.compile(r"[A-Z][a-z]{1,12}(?![A-Za-z0-9])")
# The commonest Chinese surnames in pinyin: with one of them, two capitalised words are a person
# anywhere in a line ("Emily Zhang", "Jennifer Wu 的订单"), not only after a field; product
# names (Air Max, Apple Watch) carry none.
_PINYIN_SURNAMES = frozenset(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng Liang Xie Song Tang Han Feng "
    "Deng Cao Peng Zeng Xiao Tian Dong Yuan Pan Jiang Cai Yu Du Ye Cheng Su Wei Lv Ding Ren Shen Yao Lu Jin Shi Fu Fan "
    "Zhong Wan Qian Dai Xia Qiu Hou Zou Xiong Meng Qin Bai Mao Hao Kong Mo Gu Duan Lei Tan Lai Yin Long Wen Kang".split()
)


def _latin_names(text: str) -> list[Span]:
    """Two or three capitalised words of which one is a pinyin surname: Kevin Zhang, Zhang Wei."""
    return [
        Span(m.start(), m.end(), "name")
        for m in _LATIN_NAME.finditer(text)
        # Inside a Latin word it is not a name's start; right after a Han character it is (找Kevin Zhang).
        if (m.start() == 0 or not (text[m.start() - 1].isascii() and text[m.start() - 1].isalpha()))
        and _PINYIN_SURNAMES & set(m.group().split())
    ]


# A name typed with a space between its characters (我叫杨 紫 怡, 收件人 宇文 婷): one Han character
# at a time after the surname, then a break.
_SPACED = re.compile(r"(?: [\u4e00-\u9fa5](?![\u4e00-\u9fa5])){1,2}(?=$|[\s，,。！!？?；;:：（(0-9])")


def _spaced_name_at(text: str, i: int) -> int:
    """Length of a surname and its spaced given-name characters starting at i (after a cue), or 0."""
    sur = _surname_at(text, i)
    spaced = _SPACED.match(text, i + sur) if sur else None
    if not spaced or any(c in _NOT_GIVEN for c in spaced.group()):
        return 0
    return spaced.end() - i


GIVEN_EN_FILE = DATA / "given_names_en.txt"
# What stands before a name in an English greeting or note (Dear Sophie, customer Emily Watson).
_LATIN_CUE = re.compile(r"(?:Dear|Hi|Hello|Hey|Mr\.?|Ms\.?|Mrs\.?|Miss|[Cc]ustomer|[Bb]uyer)\s*,?\s*$")
# A surname may carry an apostrophe or a hyphen (O'Connor, Smith-Jones, McDonald).
_LATIN_SURNAME = re.compile(r" [A-Z][a-z]*(?:['’\-]?[A-Z]?[a-z]+)+(?![A-Za-z])")


@lru_cache(maxsize=1)
def _english_given() -> frozenset[str]:
    """Common English given names (`given_names_en.txt`), as buyers and agents use them."""
    return frozenset(row.strip() for row in table_rows(GIVEN_EN_FILE))


def _product_noun_after(text: str, end: int) -> bool:
    """A product right after the word, perhaps one space on (Coco 香水, Lily 连衣裙); a place is not
    one (Kevin 上海长宁区…)."""
    if _product_after(text, end):
        return True
    j = end + len(text[end:]) - len(text[end:].lstrip(" "))
    after = _tag(text[j : j + 5])
    # jieba's tags for product words vary (香水/ns, 连衣裙/nr): any noun but a real place or a title.
    return (
        bool(after)
        and len(after[0][0]) >= 2
        and after[0][1].startswith("n")
        and not _place_at(text, j)
        and not _TITLE_AFTER.match(after[0][0])
    )


def _english_names(text: str) -> list[Span]:
    """A common English given name (我是Jessica, 我朋友Kevin和Lucy, Hi Chloe), with the capitalised
    word after it when a cue says a person follows (客户Tom Wilson); without a cue the pair is a
    brand (Tom Ford 口红, Kevin Murphy), and a product right after one word makes it a style (Coco 香水)."""
    spans = []
    given = _english_given()
    for m in _LATIN_WORD.finditer(text):
        if m.group() not in given or (m.start() and text[m.start() - 1].isascii() and text[m.start() - 1].isalpha()):
            continue
        before = text[max(0, m.start() - 10) : m.start()]
        cued = bool(_CUE_END.search(before) or _LATIN_CUE.search(before))
        end = m.end()
        surname = _LATIN_SURNAME.match(text, end)
        if surname:
            if not cued:
                continue
            end = surname.end()
        elif not cued and _product_noun_after(text, end):
            continue
        spans.append(Span(m.start(), end, "name"))
    return spans


def _names(text: str, found: list[Span] | tuple[Span, ...] = ()) -> list[Span]:
    """Person names in `text`; `found` holds the other findings (numbers, addresses), whose
    neighbours in a record may be names (see `_record_names`)."""
    spans: list[Span] = _record_names(text, found) + _owner_names(text)
    for m in _NAME_CUE.finditer(text):
        start = _CUE_GAP.match(text, m.start() + len(m.group(1))).end()
        size = _name_at(text, start)
        if size < 3:  # not a whole Han name: perhaps a transliterated one (艾克 + 拜尔吐尔洪)
            size = max(size, _name_tokens(text, start))
        if m.group(1) in _PERSON_FIELDS:
            size = max(size, _field_name_at(text, start))
        elif not size:  # 买家 娜仁花 说: a name with no Han surname, set apart after the cue
            run = re.match(r"[\u4e00-\u9fa5]{3,6}(?=$|[\s，,。；;（(0-9])", text[start:])
            if run and _foreign_name(run.group(), strict=True):
                size = len(run.group())
        if m.group(1) in _SELF_NAMING:  # 我叫其木格: whatever follows up to a break is the name
            run = re.match(r"[\u4e00-\u9fa5]{2,5}(?=$|[\s，,。！!；;（(0-9A-Za-z])", text[start:])
            if run and not any(c in _NOT_GIVEN for c in run.group()):
                size = max(size, len(run.group()))
        if m.group(1) in _PERSON_FIELDS or m.group(1) in ("我是", "我就是"):  # 收件人 Lin Yuxuan
            latin = _LATIN_NAME.match(text, start)
            if not latin and m.group(1) in _PERSON_FIELDS:  # 收件人：Mike, 英文名 Anna: one word is enough
                latin = _LATIN_WORD.match(text, start)
            if latin:
                size = max(size, len(latin.group()))
        size = max(size, _spaced_name_at(text, start))
        if size:
            spans.append(Span(start, start + size, "name"))
    # A name standing alone next to a number or a field of personal data: "张三 138…",
    # "诸葛明轩 身份证 …", "核对：侯振宇 4401…", "乌云其木格，158…", "王秀兰收".
    for m in re.finditer(
        r"(?:^|(?<=[\s:：，,；;】]))([\u4e00-\u9fa5]{2,6}?)"
        rf"(?=\s*[，,、/／]?\s*(?!{_QUANTITY})(?:\+?86)?[0-9][0-9 \-]{{4,}}|\s+(?:身份证|证件|电话|手机|座机|地址|微信|QQ|qq|卡号|订单|邮箱)|\s?收(?:$|[\s，,。]))",
        text,
    ):
        word, start = m.group(1), m.start(1)
        size = _name_at(text, start)
        glued = text[m.end(1) : m.end(1) + 1].isdigit()  # 国械注准2021…: a product's number
        signed = text[m.end(1) : m.end(1) + 2].strip().startswith("收")  # 请注意查 + 收: a verb, no field
        if word.endswith(("码", "号")):  # a field's label before its value (取件码 8-2-3015, 型号 A2209)
            continue
        if size == len(word) or (not glued and not _place_at(word, 0) and _foreign_name(word, places_too=True, strict=signed)):
            spans.append(Span(start, start + len(word), "name"))
    # Transliterated names of China's minorities and foreign names: 阿依古丽·买买提.
    for m in re.finditer(r"[\u4e00-\u9fa5]{1,6}[·•・][\u4e00-\u9fa5]{1,6}(?:[·•・][\u4e00-\u9fa5]{1,6})?", text):
        start = m.start()
        lead = _NAME_CUE.match(text, start)
        while lead and start < m.end():  # "我是买家热依拉·艾买提": the cue is not the name
            start = _CUE_GAP.match(text, start + len(lead.group(1))).end()
            lead = _NAME_CUE.match(text, start)
        spans.append(Span(start, m.end(), "name"))
    spans += _minority_names(text) + _set_apart_names(text) + _leading_names(text) + _unknown_fields(text)
    spans += _titled_names(text) + _verb_names(text) + _weak_cue_names(text) + _compound_names(text) + _unit_names(text)
    spans += _latin_names(text) + _english_names(text)
    # Any label for a person ending in 人 and a colon (退货人：, 经手人：) is a field for a name.
    for m in re.finditer(r"[\u4e00-\u9fa5]{1,3}人\s*[:：]\s*", text):
        size = _field_name_at(text, m.end())
        if size:
            spans.append(Span(m.end(), m.end() + size, "name"))
    spans += _corrections(text, spans)
    # A name found once is a name everywhere in the text ("应该是马莉莉 不是马莉莉").
    for name in {text[s.start : s.end] for s in spans if s.end - s.start >= 2}:
        for m in re.finditer(re.escape(name), text):
            spans.append(Span(m.start(), m.end(), "name"))
    return spans


# Findings that make a record about one person: a word set apart right beside them is its owner's
# name ("严某某 泉州市…", "…@163.com 苗某"); order and tracking numbers stand beside brands (申通 773…).
_RECORD_KINDS = ("phone", "landline", "id_card", "email", "address", "bank_card")
_WORD_TAGS = ("nr", "n", "a", "z", "v", "t")  # a dictionary word that may also be a name (方圆/n, 严肃/a, 付强/v, 夏天/t)


_FIELD_LABEL = re.compile(r"(?:址|电话|手机|号码|姓名|名字|信息)$")


def _record_names(text: str, found: list[Span] | tuple[Span, ...]) -> list[Span]:
    """A name set apart beside a contact number or an address, the two separated by spaces only.
    Even a dictionary word is read as a name here when it opens with a surname and is a noun or an
    adjective; a word no dictionary knows may open with a surname jieba's own model of names knows
    (its HMM's name-initial characters), which covers rarer surnames than our list."""
    edges = {s.start for s in found if s.kind in _RECORD_KINDS} | {s.end for s in found if s.kind in _RECORD_KINDS}
    if not edges:
        return []
    known, spans = _known(), []
    for m in re.finditer(r"(?<![\u4e00-\u9fa5])[\u4e00-\u9fa5]{2,4}(?![\u4e00-\u9fa5])", text):
        left, right = text[: m.start()].rstrip(), m.end() + len(text[m.end() :]) - len(text[m.end() :].lstrip())
        if len(left) == m.start() and right == m.end() or not (len(left) in edges or right in edges):
            continue  # glued to its neighbour, or beside no finding
        word = m.group()
        sur = _surname_at(word, 0) or (word not in known and _name_initial(word[0]))
        if not sur or len(word) - sur > 2 or any(c in _NOT_GIVEN for c in word[sur:]) or _place_at(word, 0):
            continue
        if _NAME_CUE.fullmatch(word) or _ROLE.fullmatch(word) or _TITLE_AFTER.fullmatch(word):
            continue  # 顾客, 老板, 师傅: who, not a name
        if _FIELD_LABEL.search(word):
            continue  # 原地址, 新电话: the label of the field beside it
        if len(set(word)) == 1:
            continue  # 谢谢, 好好: a doubled character is a word; a surname is not its own given name
        if word in known and not known[word].startswith(_WORD_TAGS):
            continue
        if word not in known and not _reads_as_name(word, sur) and _surname_at(word, 0):
            continue
        spans.append(Span(m.start(), m.end(), "name"))
    return spans


_LIST_ITEM = re.compile(r"[\u4e00-\u9fa5]+")
# Names are listed with 、 / or spaces; a comma joins clauses, so a run stops there.
_LIST_GAP = re.compile(r"\s*[、/]\s*|\s+")
_LIST_MAX = 8  # items: a longer run of words is running text, not a list of people
# A numbered list with a note after each item ("1.任重（空号）2.方圆（关机）") is a list too: the
# numbers and the notes are read as gaps (blanked, offsets kept).
_LIST_NOISE = re.compile(r"（[^（）]{1,12}）|\([^()]{1,12}\)|(?<![0-9])[0-9]{1,2}[.、．)）](?![0-9])")


def listed_names(text: str, spans: list[Span]) -> list[Span]:
    """In a list with two names or more ("姜丽 方圆 石磊", "斯琴、格桑、迪丽努尔", "1.任重（空号）2.方圆"), every other item
    that could be a name is one, even an ordinary word (方圆) or a name element alone (格桑). A run
    that holds an address or a number is a record, not a list of people ("杭州市西湖区 龙井村 明前茶
    多少钱": 龙井村 read as a name inside the address must not make 多少钱 one)."""
    named = {(s.start, s.end) for s in spans if s.kind == "name"}
    others = [s for s in spans if s.kind != "name"]
    text = _LIST_NOISE.sub(lambda m: " " * len(m.group()), text)
    items = list(_LIST_ITEM.finditer(text))
    out: list[Span] = []
    run: list[re.Match] = []
    for item in [*items, None]:
        if item is not None and (not run or _LIST_GAP.fullmatch(text, run[-1].end(), item.start())):
            run.append(item)
            continue
        if (
            len(run) <= _LIST_MAX
            and sum((m.start(), m.end()) in named for m in run) >= 2
            and not any(o.start < run[-1].end() and run[0].start() < o.end for o in others)
        ):
            for m in run:
                word = m.group()
                sur = _surname_at(word, 0)
                if 2 <= len(word) <= 4 and (sur and 1 <= len(word) - sur <= 2 or word in _MINORITY or _foreign_name(word)):
                    out.append(Span(m.start(), m.end(), "name"))
        run = [item] if item is not None else []
    return out


def _owner_names(text: str) -> list[Span]:
    """A name before 的 and something a person owns in a shop's chat (帮我查下某某的单, 某某的退货),
    where jieba cuts the name out itself."""
    spans = []
    for m in re.finditer(r"的(?=" + _PERSONAL.pattern + ")", text):
        i = _name_before(text, m.start(), need_start=False)
        if i >= 0 and _tagged_as_name(text, i, m.start(), listed=True) and not _brand_after(text, m.start()):
            spans.append(Span(i, m.start(), "name"))
    return spans


def _unknown_fields(text: str) -> list[Span]:
    """A field that no dictionary knows, between a colon or comma and the next ("户名海来拉布，",
    "，萨仁", "【赠品漏发】其其格，"): names without a Han surname (Yi, Dai, Mongolian, Uyghur …)
    look like this, and ordinary words do not (已审核 → 审核, 催发货 → 发货)."""
    spans = []
    for m in re.finditer(r"(?:(?<=[：:，,】])|^)([\u4e00-\u9fa5]{2,7})(?=$|[，,。；;（(])", text):
        word = m.group(1)
        if (m.start(1) > 0 or text[m.end(1) : m.end(1) + 1] in "，,") and (
            word in _MINORITY or _foreign_name(word, strict=True)  # 宝子，订单催付: not names
        ):
            spans.append(Span(m.start(1), m.end(1), "name"))
    return spans


def _minority_names(text: str) -> list[Span]:
    """Two or more name elements in a row: 扎西顿珠, 乌兰其其格, 拉巴次仁."""
    return [Span(m.start(), m.end(), "name") for m in _MINORITY_RUN.finditer(text)]


def _set_apart_names(text: str) -> list[Span]:
    """A surname and one or two more characters standing alone between punctuation, spaces or
    digits ("退款信息：朴美兰，农业银行…", "…身份证号4101… 蒋欣怡"), unless the whole is a dictionary
    word ("白色", "周末"): in tickets and handover notes a bare name is a field of its own."""
    known = _posseg().dt.word_tag_tab  # jieba's dictionary with its tags (loaded on import)
    spans = []
    for m in re.finditer(r"(?<![\u4e00-\u9fa5])[\u4e00-\u9fa5]{2,4}(?![\u4e00-\u9fa5])", text):
        word = m.group()
        sur = _surname_at(word, 0)
        if word[-1] in _PLACE_END:  # 通达路, 幸福里: a street, not a person
            continue
        if sur and len(word) > sur and word not in known and not any(c in _NOT_GIVEN for c in word[sur:]):
            if _reads_as_name(word, sur) and not _brand_after(text, m.end()):
                spans.append(Span(m.start(), m.end(), "name"))
    return spans


_PLACE_END = set("路街巷道村镇乡区县市省楼苑园里弄号")
_LEAD_POSITION = re.compile(r"(?:^|(?<=[。！？!?\n：:，,；;】）)\s]))(?=[\u4e00-\u9fa5])")


def _leading_names(text: str) -> list[Span]:
    """A name opening a sentence or a field ("张敏让我帮她问一下", "郑可欣同学的快递"), and a
    compound surname anywhere ("皇甫雪莹为高频退货客户"): only when jieba's tagger reads a person's
    name there that is not in its dictionary (the dictionary's names are famous ones and brands)."""
    known = _posseg().dt.word_tag_tab
    starts = [m.start() for m in _LEAD_POSITION.finditer(text)]
    starts += [m.start() for m in _COMPOUND_RE.finditer(text)]
    spans = []
    for i in sorted(set(starts)):
        sur = _surname_at(text, i)
        if not sur or _TITLE.match(text, i + sur):
            continue
        if text[i : i + 2] in known and not known[text[i : i + 2]].startswith("nr") and text[i : i + 3] not in known:
            continue  # an ordinary word opens the sentence (高兴, 黄色): jieba reads it so too
        if not any(_about_person(text, i + n) for n in (sur + 1, sur + 2)):
            continue  # nothing about a person after it, whatever jieba reads
        tokens = _tag(text[i : i + sur + 4])
        (w0, f0), (w1, f1) = tokens[0], tokens[1] if len(tokens) > 1 else ("", "")
        size = 0
        if f0.startswith("nr") and sur < len(w0) <= sur + 2 and w0 not in known and w0[sur] != w0[0]:
            size = len(w0) + (len(w0) == sur + 1 and _third_character(w1, f1))
        elif (
            len(w0) == sur
            and not f0.startswith(("p", "c", "u", "r", "d"))  # 从/p + 顾客: a preposition, not a surname
            and f1.startswith("nr")
            and 1 <= len(w1) <= 2
            and _cjk(w1)
            and (w0 + w1) not in known
        ):
            size = sur + len(w1)
        end = i + size
        # Not a name: a term named after someone (齐加尼克效应, 马卡龙色), or a given name that is
        # really the start of an ordinary word running on (从顾客来问 → 顾客).
        ordinary = any(not known.get(text[k : k + 2], "nr").startswith("nr") for k in range(i + sur, min(end, len(text) - 1)))
        # A surname and one character are often a product jieba guesses a name for (姜茶是…,
        # 汤达 + 人): then what follows must be about a person.
        short = size and not _about_person(text, end)
        if size and not ordinary and not short and not _TERM_AFTER.match(text, end) and not _brand_after(text, end):
            spans.append(Span(i, end, "name"))
    return spans


_TERM_AFTER = re.compile(r"[\u4e00-\u9fa5]{0,2}(?:效应|定律|定理|原理|法则|理论|色|牌|系列|品牌|款|型号|风)")


# Titles that need no given name before them: 王先生, 钱师傅, 刘姐 (but not 师姐, 空姐: words).
_SURNAME_TITLES = frozenset("先生 女士 小姐 经理 老师 师傅 总 哥 姐".split())


# Verbs that may put a name after them; weaker than a cue, so jieba must also read a person there
# (给霍思彤打电话, 跟江浩说, 请联系孔维东, 这单是付文杰下的, 交给主管邓丽君处理); so may a role.
_WEAK_CUE = re.compile(
    r"(?=(给|跟|问|叫|联系|告诉|单是|人是|家是|他是|她是|写|写的|填|填的|让|请|催|麻烦|打给|发给|寄给|通知|提醒|转交|问问|问下|问一下|@|"
    r"主管|组长|店长|业务员|跟单员|司机|快递员))"
)
# A second spelling put against a name already there ("应该是马丽丽 不是马莉莉", "名字写错成高敏了").
_CORRECTION = re.compile(r"(?:不是|而不是|写错成|错写成|写成了|写成|打成|错打成|打错成|改成|改为)\s*")
_NAME_TALK = re.compile(r"名字|姓名|收件人|收货人|写错|打错|错了|签名|实名")


_UNIT = re.compile(r"(?:部|组|科|处|中心|公司|门店|店|仓|团队)")


def _unit_names(text: str) -> list[Span]:
    """A name right after a city or a department, ending at a break or a verb: "，宁波龚晓梅，",
    "海口金鑫，", "找采购部黄佳慧", "财务部顾敏收"."""
    starts = [m.end() for m in _UNIT.finditer(text)]
    for i in range(len(text) - 2):
        size = _place_at(text, i)
        if size and _surname_at(text, i + size):
            starts.append(i + size)
    spans = []
    for j in starts:
        sur = _surname_at(text, j)
        for n in (sur + 2, sur + 1) if sur else ():
            end = j + n
            if end > len(text) or not (end == len(text) or not _cjk(text[end]) or _PERSON_VERB.match(text, end)):
                continue
            if _given_ok(text, j, n) and _tagged_as_name(text, j, end, listed=True) and not _brand_after(text, end):
                spans.append(Span(j, end, "name"))
                break
    return spans


def _titled_names(text: str) -> list[Span]:
    """A name with a title or kinship word after it: 秦雨萱同学, 冯淑芬阿姨, 石磊哥, 钱师傅, 刘姐."""
    spans = []
    for m in _TITLE_AFTER.finditer(text):
        i = _name_before(text, m.start(), need_start=False)
        if i >= 0:
            spans.append(Span(i, m.start(), "name"))
        elif m.group() in _SURNAME_TITLES and m.start() > 0:
            i = m.start() - (2 if m.start() >= 2 and _surname_at(text, m.start() - 2) == 2 else 1)
            word, known = text[i : m.end()], _known()
            before = text[i - 1 : i + 1] if i > 0 and _cjk(text[i - 1]) else ""
            # 王先生 is in jieba's dictionary as a name; 师姐, 帅哥 are too, so 哥 and 姐 take no word.
            listed = word in known and (len(m.group()) == 1 or not known[word].startswith("nr"))
            if _surname_at(text, i) and not listed and not (before and before in known):
                spans.append(Span(i, m.end(), "name"))
    return spans


def _verb_names(text: str) -> list[Span]:
    """A name right before what a person does: opening a sentence or after a cue (韩立新来电, 乔一帆说),
    or inside running text where jieba cuts it out as a name (财务部顾敏收); and, opening a sentence,
    a name without a Han surname (阿牛木呷让我问一下)."""
    spans = []
    known = _known()
    for m in _PERSON_VERB.finditer(text):
        end = m.start()
        if end > 0 and text[end - 1 : m.end()] in known:
            continue  # the verb ends a word: 揽收, 小说, 转让
        i = _name_before(text, end, need_start=False, listed=False)
        if i >= 0 and not _after_cue_or_break(text, i) and not _tagged_as_name(text, i, end):
            i = -1  # inside running text, jieba must cut the name out itself (not 时先 + 让, 高峰 + 咨询)
        for start in range(max(0, end - 6), min(end - 2, i) if i >= 0 else end - 2):
            if _cjk(text[start:end]) and _after_cue_or_break(text, start) and _foreign_name(text[start:end], strict=True):
                i = start
                break
        if i >= 0:
            spans.append(Span(i, end, "name"))
    return spans


def _weak_cue_names(text: str) -> list[Span]:
    """A name after a verb such as 给, 跟, 是, 写: jieba must read a person there that its dictionary
    does not hold as a word, and what follows must not show a brand."""
    spans = []
    known = _known()
    for m in _WEAK_CUE.finditer(text):
        if m.start() > 0 and text[m.start() - 1 : m.start() + len(m.group(1))] in known:
            continue  # the tail of a word: 请问, 填写
        i = _CUE_GAP.match(text, m.start() + len(m.group(1))).end()
        sur = _surname_at(text, i)
        if not sur or text[m.start() : i + 1] in known or _TITLE.match(text, i + sur):
            continue  # no surname, or the head of a word (让利)
        size = _name_at(text, i)
        if not size or size - sur > 2 or _tag(text[m.start() : i + 3])[0][0] != m.group(1):
            continue  # jieba joins the verb to what follows: 催付 + 先
        word = text[i : i + size]
        # A name jieba's dictionary holds is a famous person or a brand (李宁), unless what follows
        # is about a person (麻烦叫一下王建华接电话).
        end = i + size
        follows = end == len(text) or not _cjk(text[end]) or _PERSON_VERB.match(text, end) or _TITLE_AFTER.match(text, end)
        listed = word in known and not (known[word].startswith("nr") and follows)
        if listed or not _reads_as_name(word, sur) or _brand_after(text, i + size):
            continue
        # In its context too (让 + 车/n 直接/ad: a vehicle, 给 + 霍思彤/nrfg: a person).
        (w0, f0), (w1, f1) = (_tag(text[i : i + size + 2]) + (("", ""),))[:2]
        # (写 + 郑/ns 凯文/nz: jieba calls the surname a place and the given name a proper noun.)
        surname_alone = len(w0) == sur and not f0.startswith(_NOT_GIVEN_TAGS) and f1.startswith(("nr", "nz"))
        if f0.startswith("nr") or (f0 == "ns" and w0 not in known) or surname_alone:
            spans.append(Span(i, i + size, "name"))
    return spans


def _corrections(text: str, found: list[Span]) -> list[Span]:
    """Against a name already found, or in talk about a name, a second spelling is a name too."""
    if not found and not _NAME_TALK.search(text):
        return []
    spans = []
    for m in _CORRECTION.finditer(text):
        size = _name_at(text, m.end())
        word = text[m.end() : m.end() + size]
        if size and (word not in _known() or _known()[word].startswith("nr")):
            spans.append(Span(m.end(), m.end() + size, "name"))
    return spans


def _compound_names(text: str) -> list[Span]:
    """A compound surname and its given name, wherever it stands (司马云飞来电, 慕容秋，): one given
    character when a break or a word begins right after it (尉迟恒反映), otherwise two."""
    known = _known()
    spans = []
    for m in _COMPOUND_RE.finditer(text):
        g = m.end()
        if g >= len(text) or not _cjk(text[g]) or text[g] in _NOT_GIVEN or known.get(text[g : g + 2], "nr")[0] in "vdpcu":
            continue
        size = 1
        if g + 1 < len(text) and _cjk(text[g + 1]) and text[g + 1] not in _NOT_GIVEN:
            second = text[g + 1 : g + 3]
            if not (second in known and len(second) == 2 and text[g + 2 : g + 4] not in known):
                size = 2
        # A compound surname that is also an everyday word (东方, 百里, 东门) needs jieba to agree.
        if m.group() in _COMPOUND_WORDS:
            if not any(f.startswith("nr") for w, f in _tag(text[g : g + size])):
                continue
        end = g + size
        if not _brand_after(text, end) and not _TERM_AFTER.match(text, end):
            spans.append(Span(m.start(), end, "name"))
    return spans


# -- words that look like names and are not people -------------------------------------------------
NOT_PERSON_FILE = DATA / "not_person.tsv"
# A cue right before (收件人李宁, 我叫李白, 朋友李俊), a title or something a person does right after
# (李宁先生, 李俊说): then it is a person, whatever else the word names.
_PERSON_BEFORE = re.compile(r"(?:" + _CUE_END.pattern + r")|[\u4e00-\u9fa5]人\s*[:：]\s*$")
_NEAR_RECORD = 15  # characters: a contact number or an address this close makes a record about a person


@lru_cache(maxsize=1)
def _not_people() -> frozenset[str]:
    """Brands, product lines and famous or fictional figures that read like a name (王老吉, 李白,
    林黛玉): the first column of `not_person.tsv`."""
    return frozenset(row.split("\t", 1)[0] for row in table_rows(NOT_PERSON_FILE))


def not_people(text: str, found: list[Span]) -> list[Span]:
    """`found` without the names that are a brand or a famous figure from the table (王老吉 整箱,
    李白诗集, 林黛玉同款). Whatever else the word names, it stays a name with a cue before it, a
    title or a person's verb after it, or a contact number or an address close by (白雪
    138…): a person called like a brand is likelier there than the brand."""
    words = _not_people()
    records = [s for s in found if s.kind in _RECORD_KINDS]
    out = []
    for span in found:
        if (
            span.kind == "name"
            and any(text[span.start : span.start + n] in words for n in range(span.end - span.start, 5))
            and not _PERSON_BEFORE.search(text, 0, span.start)
            and not (_TITLE_AFTER.match(text, span.end) or _PERSON_VERB.match(text, span.end))
            and not any(r.start - span.end <= _NEAR_RECORD and span.start - r.end <= _NEAR_RECORD for r in records)
        ):
            continue
        out.append(span)
    return out
