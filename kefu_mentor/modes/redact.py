"""Remove buyers' personal data from text before it is stored anywhere.

Trainees paste real chats, and the textbook's first rule is 不能泄露他人信息. What a maintained
library recognises comes from jionlp (phone numbers, ID cards, e-mail, QQ and WeChat ids, and its
gazetteer of Chinese provinces, cities and counties for addresses); our own patterns cover only
what it does not: grouped ID and bank card numbers (Luhn-checked), ids after colloquial cues
(vx、扣扣、威信…), order and tracking numbers, street-level addresses (after a gazetteer name, or
an estate's building + entrance + room however the estate is called), and person names in free
text. A name is told by what stands around it: a cue before it (我叫 / 买家 / 收件人, or a verb
such as 给 / 跟 / 是 when jieba's tagger also reads a person), a title or kinship word after it
(同学, 阿姨, 师傅, 哥), something a person does after it (来电, 反馈, 说, 收), a phone number or a
break on both sides; jieba's part-of-speech tags decide where it ends and whether the characters
are an ordinary word or a brand (李锦记蚝油, 钟薛高的雪糕) instead.

`find(text)` gives the spans with their labels; `redact(text)` replaces each with its label,
e.g. [手机号], [地址], [姓名]. Measured on a blind privacy set: `kefu-mentor eval-privacy`.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

LABELS = {
    "phone": "[手机号]",
    "landline": "[电话]",
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "email": "[邮箱]",
    "qq": "[QQ号]",
    "wechat": "[微信号]",
    "address": "[地址]",
    "name": "[姓名]",
    "order": "[订单号]",
    "tracking": "[快递单号]",
}
# What the teacher view says is replaced, in the order of LABELS.
KINDS_ZH = "手机号、电话、身份证号、银行卡号、邮箱、QQ 号、微信号、地址、姓名、订单号和快递单号"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # a key of LABELS

    @property
    def label(self) -> str:
        return LABELS[self.kind]


# -- the library ------------------------------------------------------------------------------
_jio_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jio():
    """jionlp, imported once (it prints a banner on import: kept off our stdout, which may be JSON Lines)."""
    with _jio_lock, contextlib.redirect_stdout(io.StringIO()):
        import jionlp

    return jionlp


def warm() -> None:
    """Load jionlp and the gazetteer ahead of the first question (the app does this while it loads)."""
    _places()


# -- numbers ----------------------------------------------------------------------------------
# Full-width digits, letters and the punctuation numbers are written with, one character for one
# (offsets stay valid): "0371－65432198", "ＱＱ：１２３４５".
_HALF = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " ", "—": "-", "–": "-", "−": "-"})
_SEP = r"[ \-]?"
_GROUPED_ID = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}[ \-]?(?:19|20)[0-9]{2}[ \-]?[0-9]{2}[0-9]{2}[ \-]?[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_CARD = re.compile(r"(?<![0-9])[0-9]{4}(?:[ \-]?[0-9]{4}){2,3}(?:[ \-]?[0-9]{1,4})?(?![0-9])")
# Any "…卡" names a card (邮政卡, 工资卡, 中行卡), not only the few banks one could list.
_CARD_CUE = re.compile(r"(?:卡号|[\u4e00-\u9fa5]{1,3}卡|打到|退到|退回到|转到|汇到)[^0-9]{0,8}$")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}(?![0-9])")
_MOBILE_343 = re.compile(r"(?<![0-9])1[3-9][0-9][ \-]?[0-9]{4}[ \-]?[0-9]{4}(?![0-9])")
_LANDLINE = re.compile(
    r"(?:[（(]0[0-9]{2,3}[）)]|(?<![0-9])0[0-9]{2,3})[ \-]?[0-9]{3,4}[ \-]?[0-9]{4}(?:\s*(?:转|-|ext\.?)\s*[0-9]{1,5})?(?![0-9])"
)
# QQ and WeChat ids after the many ways people name them, with a few words in between ("加我q吧
# 4918…", "加我v吧 xiaoyu_0923", "绿泡泡lvxf_2021").
_QQ = re.compile(
    r"(?:[Qq]\s?[Qq]|扣扣|企鹅号?|[Qq]号|球球|(?<![A-Za-z])[Qq](?![A-Za-z]))[^0-9A-Za-z\n]{0,5}?([1-9][0-9]{4,10})(?![0-9])"
)
_WECHAT = re.compile(
    r"(?:微信号?|微❤|微心|微|薇信|薇|威信|卫星|绿泡泡|[vV]信|[vV][xX]|[wW][xX]|weixin|WeChat|wechat|(?<![A-Za-z])[vV](?![A-Za-z0-9]))"
    r"[^A-Za-z0-9\n]{0,5}?"
    r"((?:wxid_)?[A-Za-z][A-Za-z0-9_\-]{4,19}|1[3-9][0-9](?:[ \-]?[0-9]{4}){2})(?![A-Za-z0-9_\-])"
)
_WXID = re.compile(r"(?<![A-Za-z0-9_])wxid_[A-Za-z0-9_\-]{4,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_TRACKING = re.compile(
    r"(?<![A-Za-z0-9])(?:(?i:SF|YT|JT|ZTO|STO|YD|JD[A-Z]{0,3}|EMS|DPK|YUNDA|DB|BEST|HTKY|LP)[0-9]{9,16}(?![0-9])"
    # International post (UPU S10): two letters, nine digits, the country.
    r"|[A-Z]{2}[0-9]{9}[A-Z]{2}(?![A-Za-z]))"
)
_TRACKING_CUE = re.compile(
    r"(?:快递单号|运单号|物流单号|顺丰|申通|中通|圆通|韵达|极兔|百世|德邦|邮政|EMS|ems|京东快递|yd单号|jt单号|sf单号|快递)[^0-9\n]{0,6}$"
)
_ORDER_CUE = re.compile(r"(?:订单号?|订单编号|单号)[^0-9\n]{0,6}$")
_ORDER_FORMAT = re.compile(r"(?<![0-9])[0-9]{6}-[0-9]{12,18}(?![0-9])")
# Numbers that identify a product, not a person: a barcode, a certificate, a standard, a batch.
_PRODUCT_CUE = re.compile(
    r"(?:条形码|条码|商品码|认证|证书|注册证|注准|型号|批号|批次|执行标准|标准号|许可证|备案号|SC|CCC|3C|IMEI|序列号|SN)[^0-9\n]{0,8}$"
)
_LONG = re.compile(r"(?<![0-9A-Za-z])(?:[A-Z](?=[0-9]{15}))?[0-9]{11,20}(?![0-9])")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _id_valid(digits: str) -> bool:
    if len(digits) != 18:
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(digits[:17], weights, strict=True))
    return "10X98765432"[total % 11] == digits[17].upper()


def _library(extract, text: str) -> list[dict]:
    """One jionlp extractor's findings; a crash inside the library (seen on some e-mail addresses)
    costs only that extractor, our own patterns still run."""
    try:
        return extract(text, detail=True) or []
    except Exception:
        return []


# What our own patterns find as they stand: (pattern, kind, group holding the value).
_PLAIN = (
    (_EMAIL, "email", 0),
    (_WECHAT, "wechat", 1),
    (_WXID, "wechat", 0),
    (_QQ, "qq", 1),
    (_MOBILE, "phone", 0),
    (_MOBILE_343, "phone", 0),
    (_LANDLINE, "landline", 0),
    (_TRACKING, "tracking", 0),
    (_ORDER_FORMAT, "order", 0),
)
# jionlp's extractors whose findings are taken as they are.
_EXTRACTORS = (("extract_email", "email"), ("extract_id_card", "id_card"), ("extract_wechat_id", "wechat"), ("extract_qq", "qq"))
_TRACKING_DIGITS = re.compile(r"(?<![0-9])[0-9]{10,15}(?![0-9])")


def _numbers(text: str) -> list[Span]:
    jio = _jio()
    spans: list[Span] = []
    for name, kind in _EXTRACTORS:
        spans += [Span(*hit["offset"], kind) for hit in _library(getattr(jio, name), text)]
    for pattern, kind, group in _PLAIN:
        spans += [Span(m.start(group), m.end(group), kind) for m in pattern.finditer(text)]
    for m in _GROUPED_ID.finditer(text):
        if _id_valid(re.sub(r"[ \-]", "", m.group())):
            spans.append(Span(m.start(), m.end(), "id_card"))
    for hit in _library(jio.extract_phone_number, text):
        start, end = hit["offset"]
        while start < end and text[start].isspace():
            start += 1
        spans.append(Span(start, end, "phone" if hit["type"] == "cell_phone" else "landline"))
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ \-]", "", m.group())
        before = text[max(0, m.start() - 14) : m.start()]
        card_cue = _CARD_CUE.search(before)  # "邮政卡" names a card, though 邮政 is also a carrier
        if not card_cue and (_ORDER_CUE.search(before) or _TRACKING_CUE.search(before)):
            continue  # an order or tracking number that happens to pass Luhn (one in ten does)
        if 16 <= len(digits) <= 19 and (_luhn(digits) or card_cue):
            spans.append(Span(m.start(), m.end(), "bank_card"))
    for m in _LONG.finditer(text):
        before = text[max(0, m.start() - 12) : m.start()]
        if _PRODUCT_CUE.search(before) and not (_ORDER_CUE.search(before) or _TRACKING_CUE.search(before)):
            continue
        kind = "tracking" if _TRACKING_CUE.search(before) else "order"
        if 16 <= len(m.group()) <= 19 and _CARD_CUE.search(text[max(0, m.start() - 14) : m.start()]):
            kind = "bank_card"
        spans.append(Span(m.start(), m.end(), kind))
    for m in _TRACKING_DIGITS.finditer(text):
        if _TRACKING_CUE.search(text[max(0, m.start() - 12) : m.start()]):
            spans.append(Span(m.start(), m.end(), "tracking"))
    return spans


# -- addresses --------------------------------------------------------------------------------
_ADMIN_SUFFIX = "省市区县旗州盟镇乡"
_STREET = (
    "街道|大道|路|街|巷|弄|胡同|里|村委会|村|屯|组|社区|小区|花园|家园|公寓|大厦|广场|中心|大楼|园区|产业园|科技园|工业园|"
    "校区|大学|学院|师大|科大|工大|农大|医大|财大|交大|中学|小学|医院|宿舍|家属院|新村|苑|府|城|湾|庄|山庄|驿站|门|座|塔|舍|"
    "园|幢|栋|号楼|楼|斋|国际|公馆|华庭|庭|雅居|居|阁|郡|邸|天地|首府|世家"
)
# Words that label a field of personal data: a street part never runs into one ("…3 层 财务部顾敏收
# 021-…", "…1803 电话 139…").
_NOT_PART = r"(?!收|电话|手机|联系|座机|微信|订单|单号|快递|身份|卡号|邮箱|号码)"
# A number with its measure is a quantity, not a door number: "黄山毛峰 250g", "枸杞 500 克".
_QUANTITY = (
    r"[0-9]+(?:\.[0-9]+)?\s*(?:[gGLl](?![A-Za-z])|kg|KG|Kg|ml|mL|ML|cm|mm|克|斤|公斤|千克|元|块|件|个|瓶|包|箱|盒|袋|罐|支|片|粒|"
    r"米|厘米|寸|码|岁|天|小时|分钟|度|%|折|次|年|月|日)"
)
# A street-level part: a few characters ending in a street word (a park's 区 included: 高科技园区),
# or a number with its unit that is not a phone number ("A座1205", "男生11号楼", "3 组").
_PART = re.compile(
    rf"(?:[\u4e00-\u9fa5A-Za-z0-9]{{0,10}}?(?:{_STREET})区?"
    rf"|(?:{_NOT_PART}[\u4e00-\u9fa5]){{0,6}}\s?(?![0-9]{{7}})(?!0[0-9]{{2,3}}[\- ][0-9])(?!{_QUANTITY})"
    r"[0-9A-Za-z]+(?:[\-#][0-9A-Za-z]+)*\s*(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|户|舍|期|组|门)?"
    r"|[一二三四五六七八九十]+[组社队]|[东西南北]区"
    # Where two roads cross: 通达路 与 蒙山大道 交汇.
    r"|(?:与|和)\s?[\u4e00-\u9fa5]{1,8}?(?:路|街|大道)(?:\s?(?:交汇处?|交叉口|路口))?|交汇处?|交叉口"
    # A village's last detail: 东头第二家, 村委会对面小卖部.
    r"|(?:东头|西头|南头|北头|村口|对面|斜对面|旁边|隔壁|后面|前面|附近|路口)(?:第[一二三四五六七八九十0-9]+家|[\u4e00-\u9fa5]{0,4}?(?:家|店|部|超市|驿站|门口))?)"
)
_NUMBERED = re.compile(
    r"[0-9０-９]+\s*(?:号|栋|幢|单元|室|楼|层|舍)|[一二三四五六七八九十]+组|(?:村|镇|乡|社区|小区|大学|学院|校区|公寓|大厦)"
)
_LEAD = re.compile(
    r"^(?:送到|寄到|发到|寄往|发往|送往|寄给|放到|放在|快递放|改成|改到|改为|换成|地址是|地址|是|在|住在|住|到|寄|送|放|"
    r"我家|家在|这边|我这边|我们|公司在|新地址|收货地址|老家)+"
)
_BOUNDARY = set(" \t\n，,。；;！!？?、:：()（）\"'“”【】[]")


@lru_cache(maxsize=1)
def _places() -> tuple[frozenset[str], int, frozenset[str]]:
    """Province, city and county names with their short forms (two characters or more) from jionlp."""
    names: set[str] = set()

    def take(node: dict, key: str) -> None:
        names.add(key)
        for alias in [node.get("_alias")] if isinstance(node.get("_alias"), str) else node.get("_alias") or []:
            if alias and len(alias) >= 2:
                names.add(alias)

    for province, cities in _jio().china_location_loader().items():
        take(cities, province)
        for city, counties in cities.items():
            if city.startswith("_"):
                continue
            take(counties, city)
            for county, node in counties.items():
                if not county.startswith("_"):
                    take(node, county)
    names = {n for n in names if len(n) >= 2}
    return frozenset(names), max(len(n) for n in names), frozenset(n[:2] for n in names)


def _place_at(text: str, i: int) -> int:
    """Length of the longest gazetteer name starting at i (0 when none)."""
    names, longest, heads = _places()
    if text[i : i + 2] not in heads:  # most positions: one set lookup
        return 0
    for size in range(min(longest, len(text) - i), 1, -1):
        if text[i : i + size] in names:
            return size
    return 0


def _admin_word_at(text: str, i: int) -> int:
    """A district-like word not in the gazetteer (e.g. 红谷滩区, 浦东新区): 2–5 characters + 区/县/镇/乡."""
    m = re.match(rf"[\u4e00-\u9fa5]{{2,5}}?[{_ADMIN_SUFFIX}]", text[i : i + 6])
    if m and not re.match(
        r"[\u4e00-\u9fa5]*(?:地区|市区|小区|园区|校区|城区|景区|郊区|山区|分区|专区|展区|片区|社区)$", m.group()
    ):
        return m.end()
    return 0


def _admin_at(text: str, i: int) -> int:
    """One administrative level starting at i: a gazetteer name, with the level word a short form
    leaves off (黔东南 + 州, 兴国 + 镇: the gazetteer's 兴国 is a county elsewhere), or a district-like
    word it does not know."""
    size = _place_at(text, i)
    if size and i + size < len(text) and text[i + size] in _ADMIN_SUFFIX and text[i + size - 1] not in _ADMIN_SUFFIX:
        size += 1
    return max(size, _admin_word_at(text, i))


def _after_space(text: str, end: int) -> int:
    """Where the next address part may start: right here, or after one space ("杭州 西湖区")."""
    return end + 1 if end + 1 < len(text) and text[end] == " " and text[end + 1] != " " else end


def _part_end(text: str, j: int) -> int:
    """The end of a street part starting at j, or 0 when none does."""
    m = _PART.match(text, j)
    return m.end() if m and m.end() > j and m.group().strip() else 0


def _extend(text: str, end: int) -> int:
    """Take the street parts that follow `end`, each right after the last or one space on."""
    while end < len(text) and (step := _part_end(text, _after_space(text, end))):
        end = step
    return end


# Addresses without any gazetteer name: a district word or a road with a door number, a campus
# building, an industrial park's block.
_UNNAMED = re.compile(
    rf"[\u4e00-\u9fa5]{{1,8}}?(?:新区|[区县镇])\s?[\u4e00-\u9fa5]{{1,10}}?(?:{_STREET})\s?[0-9]+\s*号?"
    rf"|[\u4e00-\u9fa5]{{2,10}}?(?:路|街|大道)\s?[0-9]+\s*号"
    r"|[\u4e00-\u9fa5]{2,12}?(?:大学|学院)[\u4e00-\u9fa5]{0,8}?(?:校区|公寓|园|区)?\s?[\u4e00-\u9fa5A-Za-z]{0,4}[0-9]+\s*(?:号楼|栋|幢|舍)[0-9]*"
    r"|[\u4e00-\u9fa5A-Za-z]{2,10}?(?:科技园|产业园|工业园|园区)[\u4e00-\u9fa5]{0,3}[A-Za-z0-9\-]+\s*(?:栋|幢|座)[0-9]*"
)
# A flat inside a building, however the estate is named: building, entrance and room numbers in a
# row ("8栋3单元1102室", "5号楼 2单元 301", "12座 1801", "三号楼二单元"), or the three numbers
# written with dashes ("3-2-101"). One number alone is not enough (3楼, 2室1厅, 36码).
_NUM = r"(?:[A-Za-z]?[0-9]{1,4}[A-Za-z]?|[一二三四五六七八九十]{1,3})"
_FLAT = re.compile(
    rf"(?<![0-9A-Za-z\-])(?:第\s?)?{_NUM}\s*(?:号楼|号院|栋|幢|座|单元|舍|公寓)"
    rf"(?:\s*{_NUM}\s*(?:单元|室|层|楼|门|户|号)|\s*[0-9]{{3,4}}(?![0-9])\s*室?)+"
    # A floor and a room ("3 楼 415"); a floor and a door alone are furniture (5 层 2 门).
    r"|(?<![0-9A-Za-z\-])[0-9]{1,2}\s*[楼层]\s*[0-9]{3,4}(?![0-9])\s*室?"
    r"|(?<![0-9\-])[0-9]{1,3}-[0-9]{1,2}-[0-9]{3,4}(?![0-9\-])"
)
# The estate, campus or street named before the flat, each part ending in a street word, with one
# space allowed between parts ("金色家园小区", "江南大学 北校区 ", "碧桂园凤凰城 凤祥苑 ").
_STOP = "的了在是我你他她把给吗呢吧啊就都也还和跟"
_ESTATE_BEFORE = re.compile(
    rf"(?:(?:(?:(?![{_STOP}])[\u4e00-\u9fa5A-Za-z0-9]){{1,8}}?(?:{_STREET})区?"
    rf"|(?:[东西南北中]{_NUM}?|[A-Za-z]|{_NUM})\s?(?:区|期|号院)|[东西南北中][一二三四五六七八九十0-9]{{1,2}})\s?)+$"
)


# An estate's name needs no street word when it stands as a field of its own ("我家 恒大绿洲 21栋…").
_NAMED_BEFORE = re.compile(rf"(?:^|(?<=[\s，,：:]))(?:(?![{_STOP}])[\u4e00-\u9fa5]){{2,8}}\s?$")


def _flats(text: str) -> list[Span]:
    """Flats with the estate or campus named before them, the lead verb left out (送到 + …)."""
    spans = []
    for m in _FLAT.finditer(text):
        start, end = m.start(), _extend(text, m.end())
        before = _ESTATE_BEFORE.search(text, max(0, start - 40), start) or _NAMED_BEFORE.search(text, max(0, start - 10), start)
        if before:
            start = before.start()
            lead = _LEAD.match(text, start)
            if lead and lead.end() < m.start():
                start = lead.end()
        spans.append(Span(start, end, "address"))
    return spans


def _addresses(text: str) -> list[Span]:
    spans: list[Span] = []
    i, n = 0, len(text)
    while i < n:
        size = _place_at(text, i)
        if not size:
            i += 1
            continue
        start, end, admins = i, i + size, 1
        # More admin levels, street parts and numbers, optionally one space apart.
        while end < n:
            j = _after_space(text, end)
            step = _admin_at(text, j)
            if step:
                end, admins = j + step, admins + 1
                continue
            step = _part_end(text, j)
            if not step:
                break
            end = step
        body = text[start:end].rstrip()
        numbered, digits = _NUMBERED.search(body), re.search(r"[0-9]", body)
        # A place name alone ("广东发货", "发往新疆吗") is not an address; with a street part or a
        # door number after it, it is.
        if (admins >= 2 and (numbered or digits)) or (numbered and digits):
            spans.append(Span(start, start + len(body), "address"))
            i = start + len(body)
        else:
            i = start + size
    for m in _UNNAMED.finditer(text):
        start = m.start()
        lead = _LEAD.match(text, start)
        if lead and lead.end() < m.end():
            start = lead.end()
        spans.append(Span(start, _extend(text, m.end()), "address"))
    return _merge([_trim(text, s) for s in spans + _flats(text)], text)


def _merge(spans: list[Span], text: str) -> list[Span]:
    """One span for one address: findings that overlap, or touch across a space, are joined (the
    gazetteer's walk may stop where a flat's estate name begins)."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and span.start <= merged[-1].end + (text[merged[-1].end : span.start] == " "):
            last = merged.pop()
            span = Span(last.start, max(last.end, span.end), "address")
        merged.append(span)
    return merged


def _trim(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while end > start and text[end - 1] in _BOUNDARY:
        end -= 1
    return Span(start, end, span.kind)


# -- names ------------------------------------------------------------------------------------
_COMPOUND = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 令狐 轩辕 端木 独孤 南宫 西门 呼延 钟离 "
    "百里 东郭 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 闻人 赫连 万俟 左丘 梁丘 拓跋 第五 鲜于 闾丘 亓官 司寇 巫马 "
    "公西 漆雕 乐正 壤驷 公良 夹谷 宰父 谷梁 段干 微生 羊舌 东门 南门 商牟 伯赏 仲孙 颛孙 公羊 子车"
).split()
_COMPOUND_RE = re.compile("|".join(_COMPOUND))
_COMPOUND_WORDS = frozenset("东方 百里 第五 司空 东门 西门 南门 南宫 微生 东郭 单于 长孙 公孙 宰父 夹谷 谷梁 段干 乐正".split())
# 百家姓 and today's most common surnames, with those jionlp's name checker adds (鄢, 涂, 晋 …).
_SINGLE = set(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马苗凤花方"
    "俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计"
    "伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房"
    "裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山"
    "谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁"
    "胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈"
    "廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾毋沙乜养鞠须丰巢关蒯相查后"
    "荆红游竺权逯盖益桓公闫覃佘付代麦佟岳帅缑亢况有琴商牟佴赏墨哈谯笪年爱阳言福仝栗练揭母檀隋朴"
    "仉晋楚汝涂郤鄢钦"
)
# Cues after which a surname starts a person's name.
_CUE_WORDS = (
    r"我叫|他叫|她叫|名字叫|名字是|叫做|姓名|收件人|收货人|联系人|寄件人|取件人|户名|持卡人|开户名|买家|客户|顾客|会员|"
    r"客人|转给|交给|通知买家|通知|找一下你们|找一下|找|帮|是我姐|是我哥|是我妹|是我弟|写的是|应该是|回访|签收人|业主|老公|老婆|我妈|我爸|"
    r"我姐|我哥|我妹|我弟|表哥|表姐|表弟|表妹|堂哥|堂姐|舅舅|姑姑|婆婆|岳母|外婆|奶奶|爷爷|姥姥|媳妇|对象|男朋友|女朋友|"
    r"室友|邻居|领导|同事|朋友|代收人|本人|实名人|我是|我就是|反馈人|名字|下单人|支付人|付款人|订购人|申请人|经办人|报名人|投保人|"
    r"被保人|车主|家长|学生|署名|落款|签名|来电|自称|转告|交接给|抬头|女儿|儿子|闺女|收款人|提货人|领取人|登记人"
)
_NAME_CUE = re.compile(rf"(?=({_CUE_WORDS}))")
_CUE_END = re.compile(rf"(?:{_CUE_WORDS})\s*(?:[:：]|是|叫)?\s*$")
# Cues that name a person's field outright: what follows is a name even without a Han surname.
_PERSON_FIELDS = frozenset(
    "收件人 收货人 联系人 寄件人 取件人 签收人 代收人 户名 开户名 持卡人 姓名 来电 自称 收款人 提货人 领取人 登记人 "
    "下单人 支付人 付款人 订购人 申请人 经办人 报名人 投保人 被保人 实名人 名字 名字叫 名字是 我叫 他叫 她叫 叫做".split()
)
# Cues overlap ("收件人是我姐 苗晓丽"): each is tried, then what may sit between it and the name.
_CUE_GAP = re.compile(r"\s*(?:一下)?\s*(?:[:：]|是|叫|写的是|写的|写成|写错成|写|填的是|填的|填|为|改成|换成)?\s*")
_TITLE = re.compile(r"(?:先生|女士|小姐|经理|老师)")
_NOT_GIVEN = set(
    "的了是在和与跟说要想把被给让叫也都就还又吗呢吧啊呀哦嘛么电手号码改退换发收寄买卖客等已来去我你他她它您咱不没个位们这那哪谁"
)


@lru_cache(maxsize=1)
def _posseg():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    return jieba.posseg


@lru_cache(maxsize=8192)
def _tag(window: str) -> tuple[tuple[str, str], ...]:
    """jieba's words and part-of-speech tags for a short window of text (windows repeat: a name
    is looked at from several cues, and a chat repeats its phrases)."""
    return tuple((t.word, t.flag) for t in _posseg().lcut(window))


def _known() -> dict[str, str]:
    """jieba's dictionary, word → tag."""
    return _posseg().dt.word_tag_tab


def _surname_at(text: str, i: int) -> int:
    if text[i : i + 2] in _COMPOUND:
        return 2
    return 1 if i < len(text) and text[i] in _SINGLE else 0


_GIVEN_FLAGS = ("nr", "z", "g")  # jieba's person-name tags, and the tags it gives unknown name characters
# Tags of a word that cannot be a given name after a surname (能 + 咋办/v, 有 + 啥/r …).
_NOT_GIVEN_TAGS = ("v", "r", "d", "u", "y", "p", "c", "f", "q", "t", "e", "o", "x", "m")


def _cjk(word: str) -> bool:
    return bool(word) and all("\u4e00" <= c <= "\u9fa5" for c in word)


def _name_at(text: str, i: int) -> int:
    """Length of a person's name starting at i, or 0.

    A known surname first; then jieba's part-of-speech tagger decides whether what follows is a
    given name (买家付志远 → 付 + 志远/nrfg) or an ordinary word (买家付完款 → 付完/v; 客户关系 →
    关系/n), and where the name ends (刘婷婷反馈 → 刘 + 婷婷).
    """
    sur = _surname_at(text, i)
    if not sur:
        return 0
    title = _TITLE.match(text, i + sur)
    if title:  # 王先生, 刘经理: the surname and its title
        return title.end() - i
    if i + sur >= len(text) or not _cjk(text[i + sur]) or text[i + sur] in _NOT_GIVEN:
        return 0
    if sur == 1 and text[i + 1] == text[i]:  # 白白, 明明: a word, not a surname twice
        return 0
    # Set apart by a space, a punctuation mark or a digit ("户名 隋海洋 …", "买家 鲍天佑 要求"): a name
    # unless the whole is an ordinary dictionary word ("客户 满意 …") or jieba reads one in it
    # (买家付款后，→ 付款/v).
    tags = _posseg().dt.word_tag_tab
    for size in (sur + 2, sur + 1):
        end = i + size
        given = text[i + sur : end]
        if (
            _cjk(text[i:end])
            and len(text[i:end]) == size
            and (end == len(text) or not _cjk(text[end]))
            and not any(c in _NOT_GIVEN for c in given)
        ):
            tag = tags.get(text[i:end])
            if tag is None:
                return size if _jieba_agrees(text[i:end], sur) else 0
            return size if tag.startswith("nr") else 0
    tokens = _tag(text[i : i + 9])
    (w0, f0), rest = tokens[0], tokens[1:]
    w1, f1 = rest[0] if rest else ("", "")
    if len(w0) > sur:  # jieba read the surname as the start of a longer word
        if not f0.startswith("nr") or len(w0) > sur + 2:
            return 0
        size = len(w0)
        if size == sur + 1 and _third_character(w1, f1):
            size += 1
        return size
    if len(w0) < sur:
        return 0
    # The surname stands alone after a cue: the next word is the given name unless it is a verb,
    # a pronoun, an adverb … (客户程浩然要求 → 程 + 浩然/a; 买家付完款 → 付 + 完钱/v).
    if sur == 2 and _cjk(w1) and 1 <= len(w1) <= 2:  # 诸葛 + 明远
        return sur + len(w1)
    if _cjk(w1) and 1 <= len(w1) <= 2 and w1[0] not in _NOT_GIVEN and _surname_then_given(f0, w1, f1):
        if f1.startswith(_GIVEN_FLAGS) or not f1.startswith(_NOT_GIVEN_TAGS):
            return sur + len(w1)
    return 0


def _third_character(word: str, flag: str) -> bool:
    """Whether the word jieba puts after a two-character name token begins with the name's third
    character: a name character it tags on its own (温雅 + 琪/nr), or a pair its HMM made up that no
    dictionary knows (谢雨 + 萱是, where 是 begins the sentence's verb)."""
    if not word or not _cjk(word[0]) or word[0] in _NOT_GIVEN:
        return False
    if len(word) == 1:
        return flag.startswith(_GIVEN_FLAGS)
    return len(word) == 2 and word not in _known() and word[1] in _NOT_GIVEN


_FIELD_NOT_NAME = ("v", "r", "u", "y", "p", "c", "f", "q", "m", "t")  # 高远/d may be a name, 电话/n has 电


def _field_name_at(text: str, i: int) -> int:
    """After a cue that names a person's field (收件人, 户名, 联系人 …): a surname and one or two
    characters up to a break are a name even when they also make a word (联系人高远, 户名 金鑫);
    so are the words up to the next break that read as a name without a Han surname (吉克阿依,
    阿依达娜, 海来拉布)."""
    size = 0
    sur = _surname_at(text, i)
    for n in (sur + 2, sur + 1) if sur else ():
        end = i + n
        if end <= len(text) and (end == len(text) or not _cjk(text[end])) and _cjk(text[i:end]):
            tag = _known().get(text[i:end], "nr")
            if not any(c in _NOT_GIVEN for c in text[i + sur : end]) and not tag.startswith(_FIELD_NOT_NAME):
                size = n
                break
    run = re.match(r"[\u4e00-\u9fa5]{2,7}(?=$|[\s，,。；;（(0-9])", text[i:])
    if run and len(run.group()) > size and (_foreign_name(run.group()) or _unknown_word(run.group())):
        size = len(run.group())  # 玉罕: two characters are enough right after the field's name
    return size


def _name_tokens(text: str, i: int) -> int:
    """Length of a run of jieba's person-name tokens starting at i, four characters or more: a
    transliterated name written without its dot (买家艾克拜尔吐尔洪反馈 → 艾克/nr 拜尔/nrt 吐尔洪/nr)."""
    known, size = _known(), 0
    if text[i : i + 2] in known and not known[text[i : i + 2]].startswith("nr"):
        return 0  # an ordinary word (要求, 反馈): jieba reads it so too
    if not re.match(r"[\u4e00-\u9fa5]{4}", text[i : i + 4]):
        return 0
    for word, flag in _tag(text[i : i + 9]):
        if not flag.startswith("nr") or not _cjk(word):
            break
        size += len(word)
    return size if 4 <= size <= 8 else 0


def _names(text: str) -> list[Span]:
    spans: list[Span] = []
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
        if size:
            spans.append(Span(start, start + size, "name"))
    # A name standing alone next to a number or a field of personal data: "张三 138…",
    # "诸葛明轩 身份证 …", "核对：侯振宇 4401…", "乌云其木格，158…", "王秀兰收".
    for m in re.finditer(
        r"(?:^|(?<=[\s:：，,；;】]))([\u4e00-\u9fa5]{2,6}?)"
        rf"(?=\s*[，,、/／]?\s*(?!{_QUANTITY})(?:\+?86)?[0-9][0-9 \-]{{4,}}|\s+(?:身份证|证件|电话|手机|座机|地址|微信|QQ|qq|卡号|订单|邮箱)|收(?:$|[\s，,。]))",
        text,
    ):
        word, start = m.group(1), m.start(1)
        size = _name_at(text, start)
        glued = text[m.end(1) : m.end(1) + 1].isdigit()  # 国械注准2021…: a product's number
        signed = text[m.end(1) : m.end(1) + 1] == "收"  # 请注意查 + 收: a verb, no field
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


# Common elements of Tibetan and Mongolian given names, which carry no Han surname and which jieba's
# tagger reads as places (扎西/ns): two of them together are a name (德吉央宗, 巴特尔其其格).
_MINORITY = frozenset(
    "扎西 次仁 卓玛 格桑 达瓦 拉巴 顿珠 央金 德吉 普布 尼玛 巴桑 旺堆 多吉 平措 边巴 索朗 益西 丹增 白玛 洛桑 措姆 央宗 曲珍 "
    "次旦 仁增 强巴 贡布 桑珠 旦增 美朵 梅朵 拉姆 卓嘎 琼达 巴特尔 其其格 乌兰 哈斯 朝鲁 图雅 萨仁 斯琴 苏和 额尔敦 "
    "宝音 那仁 阿拉坦 孟和 满都拉 格日勒 乌力吉 青格勒 敖日格勒 巴雅尔 吉日嘎拉 娜仁 高娃 塔娜 托娅 阿古拉 特木尔".split()
)
_PARTICLES = set(
    "的了吗呢吧啦呀哦嘛么好亲嗯噢喔哟诶则为及或并而且向将对于该此是在和与跟说要想把被给让也都就还又已等我你您他她它们"
)


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


def _unknown_word(word: str) -> bool:
    """No particle, and at most half of it made of dictionary words (海来拉布 → 拉布)."""
    if any(c in _PARTICLES for c in word):
        return False
    known = _posseg().dt.word_tag_tab
    if word in known and not known[word].startswith("nr"):
        return False
    pieces = _posseg().dt.tokenizer.lcut(word, HMM=False)
    # A lone preposition, pronoun, adverb or conjunction makes it a phrase (去哪办, 用新号加我), so
    # do a numeral (平台小二) and two one-character verbs (订单 + 催 + 付).
    if any(len(p) == 1 and known.get(p, "x").startswith(("p", "r", "d", "c", "m")) for p in pieces):
        return False
    if sum(len(p) == 1 and known.get(p, "x").startswith("v") for p in pieces) >= 2:
        return False
    return sum(len(p) for p in pieces if len(p) > 1) * 2 <= len(word) and len(pieces) > 1


_MINORITY_RUN = re.compile("(?:" + "|".join(sorted(_MINORITY, key=len, reverse=True)) + "){2,4}")


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


def _reads_as_name(word: str, sur: int) -> bool:
    """jieba's tagger on the word alone: one person-name token (郑可欣/nr), or the surname and one
    more word that is not a verb, pronoun, adverb … (蒋 + 欣怡, 隋 + 海洋), or a two-character
    name token and one more character (谢雨/nr + 萱)."""
    if sur == 1 and word[1] == word[0]:  # 谢谢, not a surname twice
        return False
    tokens = _tag(word)
    if len(tokens) == 1:
        return tokens[0][1].startswith("nr")
    if len(tokens) != 2:
        return False
    (w0, f0), (w1, f1) = tokens
    if len(w0) == sur:
        return (not f1.startswith(_NOT_GIVEN_TAGS) or f1.startswith("nr")) and _surname_then_given(f0, w1, f1)
    return f0.startswith("nr") and len(w0) == sur + 1 and len(w1) == 1


# -- names told by their neighbours ------------------------------------------------------------
# What may stand right before a name that is not a cue: the start, a break, a digit, a bracket.
_BREAK_BEFORE = set(" \t\n，,。；;！!？?、:：()（）【】[]“”\"'/／|～~…0123456789")
# Words for people that may follow a name: titles, kinship, roles (秦雨萱同学, 冯淑芬阿姨, 石磊哥).
_TITLES = (
    "先生|女士|小姐|经理|老师|师傅|同学|阿姨|叔叔|大哥|大姐|姐姐|哥哥|妹妹|弟弟|大爷|大妈|奶奶|爷爷|"
    "家长|医生|律师|主任|老板|总(?=$|[^\u4e00-\u9fa5]|[说让要的在那这您你好])|哥|姐"
)
_TITLE_AFTER = re.compile(rf"(?:{_TITLES})(?!们)")
# Titles that need no given name before them: 王先生, 钱师傅, 刘姐 (but not 师姐, 空姐: words).
_SURNAME_TITLES = frozenset("先生 女士 小姐 经理 老师 师傅 总 哥 姐".split())
# What a person does right after being named: 韩立新来电, 阿牛木呷让我问, 乔一帆说, 苏和收.
_PERSON_VERB = re.compile(
    r"(?:来电|来问|反馈|反映|说|让|叫我|要求|投诉|申请|咨询|称|确认|同意|签收|代收|收(?=$|[\s，,。；;！!])|"
    r"是我|下的|买的|订的|拍的|付的|留言|打电话|打来|接电话|回电话|回电|来取|来拿|负责|处理|在吗|已确认|"
    # a contact detail named right after its owner: 汪海波座机 0571…, 刘洋手机 139…
    r"(?:的)?(?:座机|电话|手机|微信|邮箱|地址)(?=\s?(?:号码?)?[:：是]?\s?[0-9A-Za-z(（+]))"
)
# Verbs that may put a name after them; weaker than a cue, so jieba must also read a person there
# (给霍思彤打电话, 跟江浩说, 请联系孔维东, 这单是付文杰下的, 交给主管邓丽君处理); so may a role.
_WEAK_CUE = re.compile(
    r"(?=(给|跟|问|叫|联系|告诉|单是|人是|家是|他是|她是|写|写的|填|填的|让|请|催|麻烦|打给|发给|寄给|通知|提醒|转交|问问|问下|问一下|@|"
    r"主管|组长|店长|业务员|跟单员|司机|快递员))"
)
# A second spelling put against a name already there ("应该是马丽丽 不是马莉莉", "名字写错成高敏了").
_CORRECTION = re.compile(r"(?:不是|而不是|写错成|错写成|写成了|写成|打成|错打成|打错成|改成|改为)\s*")
_NAME_TALK = re.compile(r"名字|姓名|收件人|收货人|写错|打错|错了|签名|实名")
# Things that belong to a person in a shop's chat: after "X的" they keep X a person (张敏的快递);
# anything else after "X的" makes X a brand (杨国福的麻辣烫, 钟薛高的雪糕).
_PERSONAL = re.compile(
    r"(?:快递|包裹|订单|单子|单|货|东西|退货|退款|换货|售后|地址|电话|手机|号码|邮箱|微信|名字|身份证|卡|账户|账号|发票|件|"
    r"老公|老婆|爱人|妈|爸|孩子|儿子|女儿|家人|朋友|同事|同学|投诉|信息)"
)
# A product's model right after a word ("戴森 V12", "小米 14"): the word is a brand.
_MODEL_AFTER = re.compile(r"\s?[A-Za-z]{1,8}\s?[0-9]{1,4}(?![0-9])|\s?[0-9]{1,3}\s?(?:Pro|Max|Plus|Ultra|mini)")


def _brand_after(text: str, end: int) -> bool:
    """What follows a would-be name shows a product, not a person: a model number, a product noun
    right after it (李锦记蚝油, 张裕解百纳), or 的 and something a person does not own (钟薛高的雪糕)."""
    if _MODEL_AFTER.match(text, end) or re.match(rf"\s?{_QUANTITY}", text[end : end + 12]):
        return True  # 戴森 V12, 黄山毛峰 250g: a model or a weight
    after = _tag(text[end : end + 5]) if end < len(text) else ()
    if not after:
        return False
    word, flag = after[0]
    if word == "的" and len(after) > 1:
        word, flag = after[1]
        return len(word) >= 2 and _cjk(word) and not _PERSONAL.match(word) and not flag.startswith(_NOT_GIVEN_TAGS)
    return (
        len(word) >= 2
        and flag.startswith(("n", "z"))
        and not flag.startswith("nr")
        and not _PERSONAL.match(word)
        and not _TITLE_AFTER.match(word)
    )


def _about_person(text: str, end: int) -> bool:
    """What follows a would-be name is about a person: the end, a break or a number, a verb a
    person does, a title, or 的 with something of theirs."""
    if end >= len(text) or not _cjk(text[end]):
        return True
    if _PERSON_VERB.match(text, end) or _TITLE_AFTER.match(text, end):
        return True
    if text[end] in "那这" and text[end + 1 : end + 2] in ("单", "件", "笔"):  # 周宁那单: their order
        return True
    return text[end] == "的" and bool(_PERSONAL.match(text, end + 1))


def _after_cue_or_break(text: str, i: int) -> bool:
    """The name starts the text, follows a break, or follows a cue (客户 + 梁振华反馈)."""
    return i == 0 or text[i - 1] in _BREAK_BEFORE or bool(_CUE_END.search(text, max(0, i - 8), i))


# Words for people by their role, which follow a word ending in a surname character (你们家 + 店长说).
_ROLE = re.compile(rf"(?:{_TITLES}|店长|客服|主播|快递|小哥|同事|朋友|前辈|宝宝|宝贝|亲亲|商家|卖家|买家|老公|老婆|孩子|人)")


def _given_ok(text: str, i: int, size: int) -> int:
    """The surname's length when text[i:i+size] reads as surname + a one- or two-character given
    name: a surname that is not the tail of a word before it (主任 + 老师), name characters only,
    not the surname twice (谢谢), and not a dictionary word other than a name (高中同学)."""
    sur = _surname_at(text, i)
    given = text[i + sur : i + size]
    if not sur or i < 0 or not 1 <= len(given) <= 2 or not _cjk(text[i : i + size]):
        return 0
    if any(c in _NOT_GIVEN for c in given) or (sur == 1 and given[0] == text[i]) or _ROLE.match(given):
        return 0
    if _ROLE.fullmatch(text[i : i + size]):  # 师傅说: the role itself
        return 0
    known = _known()
    if i > 0 and _cjk(text[i - 1]) and not known.get(text[i - 1 : i + 1], "nr").startswith("nr"):
        return 0
    tag = known.get(text[i : i + size])
    return sur if tag is None or tag.startswith("nr") else 0


def _name_before(text: str, end: int, need_start: bool, listed: bool = True) -> int:
    """Where a name ending at `end` starts (-1 when none): surname + two characters, then surname
    + one, then a compound surname + two, as jieba reads them too; with `need_start`, only at a
    break or after a cue; without `listed`, not a word in jieba's dictionary, whose person names
    are famous people and also ordinary words it mistags (高峰/nr, 安抚/nr)."""
    for size in (3, 2, 4):
        i = end - size
        sur = _given_ok(text, i, size) if i >= 0 else 0
        if sur and not listed and text[i:end] in _known():
            continue
        if sur and (size != 4 or sur == 2) and (not need_start or _after_cue_or_break(text, i)):
            if _jieba_agrees(text[i:end], sur) and _starts_word(text, i, end):
                return i
    return -1


_FUNCTION_TAGS = ("p", "c", "u", "d", "v", "q", "m", "f")


def _surname_then_given(f0: str, w1: str, f1: str) -> bool:
    """The surname as its own token, then what may be the given name: when jieba reads the surname
    as a verb, a conjunction, a measure word … (付/v, 段/q, 和/c), only a name-like word may follow
    (付 + 志远/nrfg, 段 + 欣然/d, 常 + 永福/nz), not a common noun (有 + 实际/n, 和 + 数字/n)."""
    if not f0.startswith(_FUNCTION_TAGS):
        return True
    return bool(w1) and (f1.startswith(("nr", "nz", "a", "d")) or w1 not in _known())


def _jieba_agrees(word: str, sur: int) -> bool:
    """jieba does not read the word as something else: its first token is the surname alone and a
    given name may follow it (not 有 + 前辈, 张 + 表), a person's name, or a word its HMM made up
    and calls a noun (江浩/ns); not a dictionary word that swallows the surname (商品 + 名)."""
    tokens = _tag(word)
    (w0, f0), (w1, f1) = tokens[0], (tokens[1] if len(tokens) > 1 else ("", ""))
    if len(w0) == sur:
        return _surname_then_given(f0, w1, f1)
    if f0.startswith("nr"):
        return True
    # A word its HMM made up is a name if it is called a noun (江浩/ns, not 通揽/l + 收).
    return w0 not in _known() and f0.startswith("n")


def _tagged_as_name(text: str, i: int, end: int, listed: bool = False) -> bool:
    """jieba, reading a few characters on either side, cuts exactly text[i:end] and calls it a
    person's name (财务部/nt 顾敏/nr 收/v), not something else (开封/v 后/f 建议/n); a name its
    dictionary holds (高峰/nr is one) only with `listed`."""
    lo = max(0, i - 3)
    at, inside = lo, []
    for word, flag in _tag(text[lo : end + 1]):
        if at >= i and at + len(word) <= end:
            inside.append((word, flag))
        elif at < end and at + len(word) > i:
            return False  # a token crosses the name's edge
        at += len(word)
    if len(inside) == 1:
        return inside[0][1].startswith("nr") and (listed or inside[0][0] not in _known())
    return len(inside) == 2 and len(inside[0][0]) == _surname_at(text, i) and inside[1][1].startswith("nr")


def _starts_word(text: str, i: int, end: int) -> bool:
    """With the character before it, jieba still starts a word at the surname, and not as a
    measure word or a verb (哪 + 张/q 表: which table)."""
    if i == 0 or not _cjk(text[i - 1]):
        return True
    at = 0
    for word, flag in _tag(text[i - 1 : end]):
        if at == 1:
            return not (len(word) == 1 and flag.startswith(("q", "m", "v", "p", "c", "d")))
        at += len(word)
        if at > 1:
            return False
    return False


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


def _foreign_name(word: str, places_too: bool = False, strict: bool = False) -> bool:
    """A name with no Han surname (吉克阿依, 艾克拜尔吐尔洪, 哈斯巴根, 阿依达娜, 其其格): a known
    minority name element or a run of them; or, in three characters or more, jieba reads only
    person-name tokens, perhaps with place-like ones it guesses for transliterations (巴根/ns)
    that are not in the gazetteer, and one trailing character it cannot place; or no dictionary
    knows most of it (not with `strict`, where a verb follows: 请注意查 + 收). With `places_too`,
    a dictionary place word that the gazetteer does not hold counts as well (乌云其木格/ns, in a
    field before a phone number)."""
    if word in _MINORITY or _MINORITY_RUN.fullmatch(word):
        return True
    known = _known()
    if len(word) < 3 or any(c in _PARTICLES for c in word):
        return False
    if word in known:
        tag = known[word]
        return tag.startswith("nr") or (places_too and tag == "ns" and not _place_at(word, 0))
    if known.get(word[:2], "nr").startswith(("v", "p", "c", "d", "r", "m", "q", "u")):
        return False  # a phrase opening with a verb or a function word (请注意…, 不要…)
    tokens = _tag(word)
    if len(tokens) == 1 and tokens[0][1] == "nz":  # 格日乐图/nz: a word jieba made up and called a proper noun
        return True
    kinds = [f.startswith(("nr", "nz")) or (f == "ns" and _place_at(w, 0) != len(w)) for w, f in tokens]
    last_word, last_flag = tokens[-1]
    if any(f.startswith("nr") for _, f in tokens) and all(kinds[:-1]):
        # One character jieba could not place may end it (阿依达/nr + 娜/x, 阿牛木/nr + 呷/v).
        if kinds[-1] or (len(last_word) == 1 and last_word not in _PARTICLES and len(word) >= 4):
            return True
    return not strict and _unknown_word(word)


# -- putting it together -------------------------------------------------------------------------
_FIELD = re.compile(
    r"(?:收货地址|收件地址|详细地址|地址)\s*[:：]\s*([^\n，,。；;]{4,80}?)(?=\s+(?:电话|手机|联系|收件人|收货人|姓名)|[\n，,。；;]|$)"
)
# When two findings overlap, the more specific wins (an ID card is also a long number …).
_PRIORITY = ["email", "id_card", "bank_card", "wechat", "qq", "phone", "landline", "tracking", "order", "address", "name"]
_RANK = {kind: i for i, kind in enumerate(_PRIORITY)}


def find(text: str) -> list[Span]:
    """Non-overlapping spans of personal data in `text`, in order."""
    if not text:
        return []
    normalised = text.translate(_HALF)  # same length: offsets stay valid
    numbers = _numbers(normalised)
    found = numbers + _trimmed(normalised, _addresses(normalised), numbers) + _names(normalised)
    for m in _FIELD.finditer(normalised):
        found.append(Span(m.start(1), m.end(1), "address"))
    # Longest address first, then by kind: a whole address beats a number inside it (which is then
    # part of it); a number beats a name. What overlaps a span already taken is left out.
    ordered = sorted(
        set(found), key=lambda s: (-(s.end - s.start) if s.kind == "address" else 0, _RANK[s.kind], -(s.end - s.start), s.start)
    )
    taken: list[Span] = []
    used = bytearray(len(text))  # one flag per character: overlap tests stay linear in a long text
    for span in ordered:
        if span.end > span.start and not any(used[span.start : span.end]):
            taken.append(span)
            used[span.start : span.end] = b"\x01" * (span.end - span.start)
    return sorted(taken, key=lambda s: s.start)


_CONTACT = ("phone", "landline", "id_card", "bank_card", "email", "qq", "wechat")


def _trimmed(text: str, addresses: list[Span], numbers: list[Span]) -> list[Span]:
    """An address ends where a contact number starts inside it ("…天百大厦 7楼 0991-2817745"): the
    address's own numbers are short, a phone number is its own finding with its own label."""
    out = []
    for address in addresses:
        end = min(
            (n.start for n in numbers if n.kind in _CONTACT and address.start < n.start < address.end), default=address.end
        )
        while end != address.end and end > address.start and text[end - 1].isspace():
            end -= 1
        out.append(Span(address.start, end, address.kind) if end != address.end else address)
    return out


def redact(text: str) -> str:
    """Replace personal data with labels such as [手机号] and [地址]."""
    spans = find(text)
    if not spans:
        return text
    out, last = [], 0
    for span in spans:
        out.append(text[last : span.start])
        out.append(span.label)
        last = span.end
    out.append(text[last:])
    return "".join(out)
