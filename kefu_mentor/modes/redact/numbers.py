"""Phone and landline numbers, ID and bank cards, e-mail, QQ and WeChat ids, order and tracking
numbers: jionlp's extractors plus our own patterns for what it does not cover."""

from __future__ import annotations

import re

from ._common import Span
from .library import _jio

# -- numbers ----------------------------------------------------------------------------------
# Full-width digits, letters and the punctuation numbers are written with, one character for one
# (offsets stay valid): "0371－65432198", "ＱＱ：１２３４５".
_HALF = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " ", "—": "-", "–": "-", "−": "-"})
_SEP = r"[ \-]?"
_GROUPED_ID = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}[ \-]?(?:19|20)[0-9]{2}[ \-]?[0-9]{2}[0-9]{2}[ \-]?[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_CARD = re.compile(r"(?<![0-9])[0-9]{4,6}(?:[ \-]?[0-9]{4}){2,3}(?:[ \-]?[0-9]{1,4})?(?![0-9])")
# Any "…卡" names a card (邮政卡, 工资卡, 中行卡), not only the few banks one could list.
# So does a card named by its last digits (尾号663卡, 尾号 4587 的卡).
_CARD_CUE = re.compile(r"(?:卡号|[\u4e00-\u9fa5]{1,3}卡|[0-9]{3,4}\s?的?卡|打到|退到|退回到|转到|汇到)[^0-9]{0,8}$")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}(?![0-9])")
_MOBILE_343 = re.compile(r"(?<![0-9])1[3-9][0-9][ \-]?[0-9]{4}[ \-]?[0-9]{4}(?![0-9])")
# A mobile number in any other grouping ("1370 0218 936", "137-0021-8936"): groups of three digits
# or more, eleven digits in all. Shorter groups are more often a list of prices (159 299 399 59).
_COUNTRY = re.compile(r"(?:\+?86[ \-]?)?")
_DIGITS = re.compile(r"[0-9]+")
_MOBILE_GROUPS = re.compile(rf"(?<![0-9]){_COUNTRY.pattern}1[3-9][0-9]{{1,9}}(?:[ \-][0-9]{{3,9}}){{1,3}}(?![0-9])")
_LANDLINE = re.compile(
    r"(?:[（(]0[0-9]{2,3}[）)]|(?<![0-9])0[0-9]{2,3})[ \-]?[0-9]{3,4}[ \-]?[0-9]{4}(?:\s*(?:转|分机|-|ext\.?)\s*[0-9]{1,5})?(?![0-9])"
)
# QQ and WeChat ids after the many ways people name them, with a few words in between ("加我q吧
# 4918…", "加我v吧 xiaoyu_0923", "绿泡泡lvxf_2021").
_QQ_WORD = r"[Qq]\s?[Qq]|扣扣|企鹅号?|[Qq]号|球球"
_QQ = re.compile(rf"(?:{_QQ_WORD}|(?<![A-Za-z])[Qq](?![A-Za-z]))[^0-9A-Za-z\n]{{0,5}}?([1-9][0-9]{{4,10}})(?![0-9])")
_WECHAT = re.compile(
    r"(?:微信号?|微❤|微心|微|薇信|薇|威信|卫星|绿泡泡|[vV]信|[vV][xX]|[wW][xX]|weixin|WeChat|wechat|(?<![A-Za-z])[vV](?![A-Za-z0-9]))"
    r"[^A-Za-z0-9\n]{0,5}?"
    r"((?:wxid_)?[A-Za-z][A-Za-z0-9_\-]{4,19}|1[3-9][0-9](?:[ \-]?[0-9]{4}){2})(?![A-Za-z0-9_\-])"
)
_WXID = re.compile(r"(?<![A-Za-z0-9_])wxid_[A-Za-z0-9_\-]{4,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# An address written so that a chat filter does not see it: # or (at) for @ (name#163.com).
_EMAIL_DISGUISED = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+\s?(?:#|\(at\)|\[at\]|（at）|\sat\s)\s?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.(?:com|cn|net|org|edu|me|io)(?![A-Za-z])",
    re.IGNORECASE,
)
# Digits spelled out one at a time ("1 3 6 2 1 8 …", "qq 8 2 7 6 …"), so no pattern for grouped
# numbers sees them; and a mobile number in Chinese numerals as it is read out (幺五九 三二八六 …).
_SPELLED = re.compile(r"(?<![0-9])[0-9](?: [0-9]){4,17}(?![0-9])")
_HAN_DIGITS = "零〇幺一二三四五六七八九"
_HAN_MOBILE = re.compile(rf"(?<![{_HAN_DIGITS}])[幺一][三四五六七八九](?:\s?[{_HAN_DIGITS}]){{9}}(?![{_HAN_DIGITS}])")
_QQ_CUE = re.compile(rf"(?:{_QQ_WORD})[^0-9A-Za-z\n]{{0,5}}$")
_TRACKING = re.compile(
    # A carrier's prefix, then the digits, perhaps grouped as read out (SF 1320 5587 2941 2).
    r"(?<![A-Za-z0-9])(?:(?i:SF|YT|JT|ZTO|STO|YD|JD[A-Z]{0,3}|EMS|DPK|YUNDA|DB|BEST|HTKY|LP)"
    r"(?:[0-9]{9,16}|[ \-]?[0-9]{2,6}(?:[ \-][0-9]{1,6}){1,5})(?![0-9])"
    # International post (UPU S10): two letters, nine digits, the country.
    r"|[A-Z]{2}[0-9]{9}[A-Z]{2}(?![A-Za-z]))"
)
_TRACKING_CUE = re.compile(
    r"(?:快递单号|运单号|物流单号|顺丰|申通|中通|圆通|韵达|极兔|百世|德邦|邮政|EMS|ems|京东快递|yd单号|jt单号|sf单号|快递)[^0-9\n]{0,6}$"
)
_ORDER_CUE = re.compile(r"(?:订单号?|订单编号|单号|单子)[^0-9\n]{0,6}$")
_ORDER_FORMAT = re.compile(r"(?<![0-9])[0-9]{6}-[0-9]{8,18}(?![0-9])")
# A shop's order number with a letter prefix (DD2024…, TB3920…, E2024…, PDD240228-5190…): only after an order's cue
# or right after another order number ("订单TB…和TB…"), since model numbers look alike (型号 ABC1234…).
_LETTER_ORDER = re.compile(r"(?<![0-9A-Za-z])[A-Z]{1,4}(?:[0-9]{8,20}|[0-9]{6}-[0-9]{8,18})(?![0-9A-Za-z])")
_NEXT_ORDER = re.compile(r"\s*(?:和|与|跟|及|、|,|，|/|或)\s*$")
# Numbers that identify a product, not a person: a barcode, a certificate, a standard, a batch.
_PRODUCT_CUE = re.compile(
    r"(?:条形码|条码|商品码|认证|证书|注册证|注准|型号|批号|批次|执行标准|标准号|许可证|备案号|SC|CCC|3C|IMEI|序列号|SN)[^0-9\n]{0,8}$"
)
_LONG = re.compile(r"(?<![0-9A-Za-z])(?:[A-Z](?=[0-9]{15}))?[0-9]{11,20}(?![0-9])")


def _before(text: str, start: int, width: int = 12) -> str:
    """The characters just before a match, where its cue stands (订单号, 顺丰, 工资卡 …)."""
    return text[max(0, start - width) : start]


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


def _ean13(digits: str) -> bool:
    """A product barcode: thirteen digits, China's GS1 prefixes 690–699, a valid check digit."""
    if len(digits) != 13 or not digits.startswith("69"):
        return False
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def _grouped_mobile(match: re.Match) -> tuple[int, int] | None:
    """The first groups of `match` that make eleven digits (after +86), as (start, end); None when
    the groups pass eleven without making it."""
    digits = 0
    for m in _DIGITS.finditer(match.group(), _COUNTRY.match(match.group()).end()):
        digits += len(m.group())
        if digits == 11:
            return match.start(), match.start() + m.end()
        if digits > 11:
            return None
    return None


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
    (_EMAIL_DISGUISED, "email", 0),
    (_HAN_MOBILE, "phone", 0),
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
_GROUPED_DIGITS = re.compile(r"(?<![0-9A-Za-z])[0-9]{2,6}(?:[ \-][0-9]{2,6}){1,5}(?![0-9])")
_CUED_ORDER = re.compile(r"(?<![0-9A-Za-z])[0-9]{8,10}(?![0-9])")


_PRODUCT_LINK = re.compile(r"https?://\S*?(?:item|detail|product|goods)\S*[?&](?:id|itemId|item_id|skuId)=$")


def _numbers(text: str) -> list[Span]:
    jio = _jio()
    spans: list[Span] = []
    for name, kind in _EXTRACTORS:
        spans += [Span(*hit["offset"], kind) for hit in _library(getattr(jio, name), text)]
    for pattern, kind, group in _PLAIN:
        spans += [Span(m.start(group), m.end(group), kind) for m in pattern.finditer(text)]
    for m in _MOBILE_GROUPS.finditer(text):
        found = _grouped_mobile(m)
        if found:
            spans.append(Span(*found, "phone"))
    for m in _SPELLED.finditer(text):
        digits = m.group().replace(" ", "")
        if _QQ_CUE.search(_before(text, m.start(), 10)) and 5 <= len(digits) <= 11:
            spans.append(Span(m.start(), m.end(), "qq"))
        elif len(digits) == 11 and re.match(r"1[3-9]", digits):
            spans.append(Span(m.start(), m.end(), "phone"))
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
        before = _before(text, m.start(), 14)
        card_cue = _CARD_CUE.search(before)  # "邮政卡" names a card, though 邮政 is also a carrier
        if not card_cue and (_ORDER_CUE.search(before) or _TRACKING_CUE.search(before)):
            continue  # an order or tracking number that happens to pass Luhn (one in ten does)
        # Written in groups of four, 16-19 digits with no order's cue are a card even when they fail
        # Luhn (a number mistyped, or made up for a training chat: it is still someone's card).
        grouped = m.group() != digits
        if 16 <= len(digits) <= 19 and (_luhn(digits) or card_cue or grouped):
            spans.append(Span(m.start(), m.end(), "bank_card"))
    for m in _LONG.finditer(text):
        before = _before(text, m.start())
        cued = _ORDER_CUE.search(before) or _TRACKING_CUE.search(before)
        if not cued and (_PRODUCT_CUE.search(before) or _ean13(m.group())):
            continue
        if _PRODUCT_LINK.search(_before(text, m.start(), 80)):
            continue  # a shop link's item id (item.htm?id=…): the product's, not the buyer's
        kind = "tracking" if _TRACKING_CUE.search(before) else "order"
        if 16 <= len(m.group()) <= 19 and _CARD_CUE.search(_before(text, m.start(), 14)):
            kind = "bank_card"
        spans.append(Span(m.start(), m.end(), kind))
    for m in _GROUPED_DIGITS.finditer(text):  # 订单号 2034 5581 9932 1107, 申通单号 773 2245 9810 346
        before = _before(text, m.start())
        if 10 <= sum(c.isdigit() for c in m.group()) <= 20 and not _CARD_CUE.search(before):
            if _TRACKING_CUE.search(before):
                spans.append(Span(m.start(), m.end(), "tracking"))
            elif _ORDER_CUE.search(before):
                spans.append(Span(m.start(), m.end(), "order"))
    for m in _CUED_ORDER.finditer(text):  # 订单 1906384725: shorter than a bare number needs to be
        if _ORDER_CUE.search(_before(text, m.start())):
            spans.append(Span(m.start(), m.end(), "order"))
    for m in _TRACKING_DIGITS.finditer(text):
        if _TRACKING_CUE.search(_before(text, m.start())):
            spans.append(Span(m.start(), m.end(), "tracking"))
    for m in _LETTER_ORDER.finditer(text):
        before = _before(text, m.start())
        after_order = any(
            s.kind == "order" and _NEXT_ORDER.fullmatch(text[s.end : m.start()]) for s in spans if s.end <= m.start()
        )
        carried = any(s.start <= m.start() < s.end for s in spans if s.kind == "tracking")  # 顺丰单号SF…
        if not carried and ((_ORDER_CUE.search(before) and not _TRACKING_CUE.search(before)) or after_order):
            spans.append(Span(m.start(), m.end(), "order"))
    # Digits read out in groups after a carrier's prefix or an order's cue (SF 1320 5587 2941 2,
    # 订单号 2034 5581 9932 1107) are that number, not a phone number jionlp sees inside it.
    cued = [s for s in spans if s.kind in ("tracking", "order")]
    return [
        s
        for s in spans
        if s.kind not in ("phone", "landline")
        or not any(c.start <= s.start and s.end <= c.end and c.end - c.start > s.end - s.start for c in cued)
    ]
