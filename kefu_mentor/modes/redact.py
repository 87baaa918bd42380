"""Remove buyers' personal data from text before it is stored anywhere.

Trainees paste real chats, and the textbook's first rule is 不能泄露他人信息. What a maintained
library recognises comes from jionlp (phone numbers, ID cards, e-mail, QQ and WeChat ids, and its
gazetteer of Chinese provinces, cities and counties for addresses); our own patterns cover only
what it does not: grouped ID and bank card numbers (Luhn-checked), ids after colloquial cues
(vx、扣扣、威信…), order and tracking numbers, street-level addresses, and person names in free
text (a surname after a cue such as 我叫 / 买家 / 收件人, jieba deciding where the name ends).

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
_CARD_CUE = re.compile(r"(?:卡号|银行卡|储蓄卡|信用卡|借记卡|农行卡|工行卡|建行卡|招行卡|打到|退到|退回到|转到|汇到)[^0-9]{0,8}$")
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
        if _ORDER_CUE.search(before) or _TRACKING_CUE.search(before):
            continue  # an order or tracking number that happens to pass Luhn (one in ten does)
        if 16 <= len(digits) <= 19 and (_luhn(digits) or _CARD_CUE.search(before)):
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
    "街道|大道|路|街|巷|弄|胡同|里|村委会|村|屯|组|社区|小区|花园|公寓|大厦|广场|中心|大楼|园区|产业园|科技园|工业园|"
    "校区|大学|学院|中学|小学|医院|宿舍|家属院|新村|苑|府|城|湾|庄|驿站|门|座|塔|舍|园|幢|栋|号楼|楼"
)
# A street-level part: a few characters ending in a street word, or a number with its unit.
_PART = re.compile(
    rf"(?:[\u4e00-\u9fa5A-Za-z0-9]{{0,10}}?(?:{_STREET})"
    r"|[\u4e00-\u9fa5]{0,6}\s?[0-9A-Za-z]+(?:[\-#][0-9A-Za-z]+)*\s*(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|户|舍|期|组)?"
    r"|[一二三四五六七八九十]+组|[东西南北]区"
    # A village's last detail: 东头第二家, 村委会对面小卖部.
    r"|(?:东头|西头|南头|北头|村口|对面|斜对面|旁边|隔壁|后面|前面|附近|路口)(?:第[一二三四五六七八九十0-9]+家|[\u4e00-\u9fa5]{0,4}?(?:家|店|部|超市|驿站|门口))?)"
)
_NUMBERED = re.compile(
    r"[0-9０-９]+\s*(?:号|栋|幢|单元|室|楼|层|舍)|[一二三四五六七八九十]+组|(?:村|镇|乡|社区|小区|大学|学院|校区|公寓|大厦)"
)
_LEAD = re.compile(
    r"^(?:送到|寄到|发到|寄往|发往|送往|寄给|改成|改到|改为|换成|地址是|地址|是|在|住在|住|到|我家|家在|这边|我这边|我们|公司在|新地址|收货地址|老家)+"
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
    m = re.match(rf"[\u4e00-\u9fa5]{{2,5}}?[{_ADMIN_SUFFIX}]", text[i:])
    if m and not re.match(
        r"[\u4e00-\u9fa5]*(?:地区|市区|小区|园区|校区|城区|景区|郊区|山区|分区|专区|展区|片区|社区)$", m.group()
    ):
        return m.end()
    return 0


def _after_space(text: str, end: int) -> int:
    """Where the next address part may start: right here, or after one space ("杭州 西湖区")."""
    return end + 1 if end + 1 < len(text) and text[end] == " " and text[end + 1] != " " else end


def _part_end(text: str, j: int) -> int:
    """The end of a street part starting at j, or 0 when none does."""
    m = _PART.match(text, j)
    return m.end() if m and m.end() > j and m.group().strip() else 0


# Addresses without any gazetteer name: a district word or a road with a door number, a campus
# building, an industrial park's block.
_UNNAMED = re.compile(
    rf"[\u4e00-\u9fa5]{{1,8}}?(?:新区|[区县镇])\s?[\u4e00-\u9fa5]{{1,10}}?(?:{_STREET})\s?[0-9]+\s*号?"
    rf"|[\u4e00-\u9fa5]{{2,10}}?(?:路|街|大道)\s?[0-9]+\s*号"
    r"|[\u4e00-\u9fa5]{2,12}?(?:大学|学院)[\u4e00-\u9fa5]{0,8}?(?:校区|公寓|园|区)?\s?[\u4e00-\u9fa5A-Za-z]{0,4}[0-9]+\s*(?:号楼|栋|幢|舍)[0-9]*"
    r"|[\u4e00-\u9fa5A-Za-z]{2,10}?(?:科技园|产业园|工业园|园区)[\u4e00-\u9fa5]{0,3}[A-Za-z0-9\-]+\s*(?:栋|幢|座)[0-9]*"
)


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
            step = _place_at(text, j) or _admin_word_at(text, j)
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
        end = m.end()
        while end < n and (step := _part_end(text, _after_space(text, end))):
            end = step
        spans.append(Span(start, end, "address"))
    return [_trim(text, s) for s in spans]


def _trim(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while end > start and text[end - 1] in _BOUNDARY:
        end -= 1
    return Span(start, end, span.kind)


# -- names ------------------------------------------------------------------------------------
_COMPOUND = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 令狐 轩辕 端木 独孤 南宫 西门 呼延 钟离 "
    "百里 东郭 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 闻人 赫连 万俟 左丘 梁丘 拓跋 第五 鲜于 闾丘 亓官 司寇 巫马 "
    "公西 漆雕 乐正 壤驷 公良 夹谷 宰父 谷梁 段干 微生 羊舌 东门 商牟 伯赏 仲孙 颛孙"
).split()
_COMPOUND_RE = re.compile("|".join(_COMPOUND))
# 百家姓 and today's most common surnames.
_SINGLE = set(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马苗凤花方"
    "俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计"
    "伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房"
    "裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山"
    "谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁"
    "胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈"
    "廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾毋沙乜养鞠须丰巢关蒯相查后"
    "荆红游竺权逯盖益桓公闫覃佘付代麦佟岳帅缑亢况有琴商牟佴赏墨哈谯笪年爱阳言福仝栗练揭母檀隋朴"
)
# Cues after which a surname starts a person's name.
_NAME_CUE = re.compile(
    r"(?=(我叫|他叫|她叫|名字叫|名字是|叫做|姓名|收件人|收货人|联系人|寄件人|取件人|户名|持卡人|开户名|买家|客户|顾客|会员|"
    r"客人|转给|交给|通知买家|通知|找一下你们|找一下|找|帮|是我姐|是我哥|是我妹|是我弟|写的是|应该是|回访|签收人|业主|老公|老婆|我妈|我爸|"
    r"我姐|我哥|我妹|我弟|同事|朋友|代收人|本人|实名人|我是|我就是|反馈人|名字|下单人|支付人|付款人|订购人|申请人|经办人|报名人|投保人|"
    r"被保人|车主|家长|学生|署名|落款|签名|来电|自称|转告|交接给|抬头|女儿|儿子|闺女))"
)
# Cues that name a person's field outright: what follows is a name even without a Han surname.
_PERSON_FIELDS = frozenset("收件人 收货人 联系人 寄件人 取件人 签收人 代收人 户名 开户名 持卡人 姓名 来电 自称".split())
# Cues overlap ("收件人是我姐 苗晓丽"): each is tried, then what may sit between it and the name.
_CUE_GAP = re.compile(r"\s*(?:[:：]|是|叫|写的是|写成|写|为|改成|换成)?\s*")
_TITLE = re.compile(r"(?:先生|女士|小姐|经理|老师)")
_NOT_GIVEN = set("的了是在和与跟说要想把被给让叫也都就还又吗呢吧啊呀哦嘛么电手号码改退换发收寄买卖客等已来去")


@lru_cache(maxsize=1)
def _posseg():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    return jieba.posseg


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
    # Set apart by a space, a punctuation mark or a digit ("户名 隋海洋 …", "买家 鲍天佑 要求"): a name
    # unless the whole is an ordinary dictionary word ("客户 满意 …").
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
            return size if tag is None or tag.startswith("nr") else 0
    tokens = [(t.word, t.flag) for t in _posseg().lcut(text[i : i + sur + 7])]
    (w0, f0), rest = tokens[0], tokens[1:]
    w1, f1 = rest[0] if rest else ("", "")
    if len(w0) > sur:  # jieba read the surname as the start of a longer word
        if not f0.startswith("nr") or len(w0) > sur + 2:
            return 0
        size = len(w0)
        # 温雅 + 琪: a two-character name word and one more name character.
        if size == sur + 1 and len(w1) == 1 and _cjk(w1) and f1.startswith(_GIVEN_FLAGS) and w1 not in _NOT_GIVEN:
            size += 1
        return size
    if len(w0) < sur:
        return 0
    # The surname stands alone after a cue: the next word is the given name unless it is a verb,
    # a pronoun, an adverb … (客户程浩然要求 → 程 + 浩然/a; 买家付完款 → 付 + 完钱/v).
    if sur == 2 and _cjk(w1) and 1 <= len(w1) <= 2:  # 诸葛 + 明远
        return sur + len(w1)
    if _cjk(w1) and 1 <= len(w1) <= 2 and w1[0] not in _NOT_GIVEN:
        if f1.startswith(_GIVEN_FLAGS) or not f1.startswith(_NOT_GIVEN_TAGS):
            return sur + len(w1)
    return 0


def _names(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _NAME_CUE.finditer(text):
        start = _CUE_GAP.match(text, m.start() + len(m.group(1))).end()
        size = _name_at(text, start)
        if m.group(1) in _PERSON_FIELDS:
            # No Han surname (吉克阿依, 海来拉布): the words up to the next break, if no dictionary knows them.
            run = re.match(r"[\u4e00-\u9fa5]{2,7}(?=$|[，,。；;（(0-9])", text[start:])
            if run and len(run.group()) > size and _unknown_word(run.group()):
                size = len(run.group())
        if size:
            spans.append(Span(start, start + size, "name"))
    for m in re.finditer(r"[\u4e00-\u9fa5]{1,2}(?=先生|女士|小姐|经理)", text):
        i = m.start() if _surname_at(text, m.start()) == 2 else m.end() - 1
        size = _name_at(text, i)
        if size and _TITLE.match(text, i + _surname_at(text, i)):
            spans.append(Span(i, i + size, "name"))
    # A name standing alone next to a number or a field of personal data: "张三 138…",
    # "诸葛明轩 身份证 …", "核对：侯振宇 4401…", "王秀兰收".
    for m in re.finditer(
        r"(?:^|(?<=[\s:：，,；;]))([\u4e00-\u9fa5]{2,4}?)"
        r"(?=\s*(?:\+?86)?[0-9][0-9 \-]{4,}|\s+(?:身份证|证件|电话|手机|座机|地址|微信|QQ|qq|卡号|订单|邮箱)|收(?:$|[\s，,。]))",
        text,
    ):
        size = _name_at(text, m.start(1))
        if size and size == len(m.group(1)):
            spans.append(Span(m.start(1), m.start(1) + size, "name"))
    # Transliterated names of China's minorities and foreign names: 阿依古丽·买买提.
    for m in re.finditer(r"[\u4e00-\u9fa5]{1,6}[·•・][\u4e00-\u9fa5]{1,6}(?:[·•・][\u4e00-\u9fa5]{1,6})?", text):
        start = m.start()
        lead = _NAME_CUE.match(text, start)
        while lead and start < m.end():  # "我是买家热依拉·艾买提": the cue is not the name
            start = _CUE_GAP.match(text, start + len(lead.group(1))).end()
            lead = _NAME_CUE.match(text, start)
        spans.append(Span(start, m.end(), "name"))
    spans += _minority_names(text) + _set_apart_names(text) + _leading_names(text) + _unknown_fields(text)
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
_PARTICLES = set("的了吗呢吧啦呀哦嘛么好亲嗯噢喔哟诶则为及或并而且向将对于该此是在和与跟说要想把被给让也都就还又已等")


def _unknown_fields(text: str) -> list[Span]:
    """A field that no dictionary knows, between a colon or comma and the next ("户名海来拉布，",
    "，萨仁", "【赠品漏发】其其格，"): names without a Han surname (Yi, Dai, Mongolian, Uyghur …)
    look like this, and ordinary words do not (已审核 → 审核, 催发货 → 发货)."""
    spans = []
    for m in re.finditer(r"(?:(?<=[：:，,】])|^)([\u4e00-\u9fa5]{2,7})(?=$|[，,。；;（(])", text):
        if (m.start(1) > 0 or text[m.end(1) : m.end(1) + 1] in "，,") and _unknown_word(m.group(1)):
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
    # A lone preposition, pronoun, adverb or conjunction makes it a phrase (去哪办, 用新号加我).
    if any(len(p) == 1 and known.get(p, "x").startswith(("p", "r", "d", "c")) for p in pieces):
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
        if sur and len(word) > sur and word not in known and not any(c in _NOT_GIVEN for c in word[sur:]):
            if _reads_as_name(word, sur):
                spans.append(Span(m.start(), m.end(), "name"))
    return spans


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
        tokens = [(t.word, t.flag) for t in _posseg().lcut(text[i : i + sur + 6])]
        (w0, f0), (w1, f1) = tokens[0], tokens[1] if len(tokens) > 1 else ("", "")
        size = 0
        if f0.startswith("nr") and sur < len(w0) <= sur + 2 and w0 not in known:
            size = len(w0)
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
        if size and not ordinary and not _TERM_AFTER.match(text, end):
            spans.append(Span(i, end, "name"))
    return spans


_TERM_AFTER = re.compile(r"[\u4e00-\u9fa5]{0,2}(?:效应|定律|定理|原理|法则|理论|色|牌|系列|品牌|款|型号|风)")


def _reads_as_name(word: str, sur: int) -> bool:
    """jieba's tagger on the word alone: one person-name token (郑可欣/nr), or the surname and one
    more word that is not a verb, pronoun, adverb … (蒋 + 欣怡, 隋 + 海洋), or a two-character
    name token and one more character (谢雨/nr + 萱)."""
    tokens = [(t.word, t.flag) for t in _posseg().lcut(word)]
    if len(tokens) == 1:
        return tokens[0][1].startswith("nr")
    if len(tokens) != 2:
        return False
    (w0, f0), (w1, f1) = tokens
    if len(w0) == sur:
        return not f1.startswith(_NOT_GIVEN_TAGS) or f1.startswith("nr")
    return f0.startswith("nr") and len(w0) == sur + 1 and len(w1) == 1


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
    found = _numbers(normalised) + _addresses(normalised) + _names(normalised)
    for m in _FIELD.finditer(normalised):
        found.append(Span(m.start(1), m.end(1), "address"))
    # Longest address first, then by kind: a whole address beats a number inside it (which is then
    # part of it); a number beats a name. What overlaps a span already taken is left out.
    found.sort(key=lambda s: (-(s.end - s.start) if s.kind == "address" else 0, _RANK[s.kind], -(s.end - s.start)))
    taken: list[Span] = []
    for span in found:
        if span.end > span.start and not any(t.start < span.end and span.start < t.end for t in taken):
            taken.append(span)
    return sorted(taken, key=lambda s: s.start)


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
