"""Addresses: a walk along gazetteer names and the street parts after them, addresses that name
no place the gazetteer knows, and flats inside an estate however the estate is called."""

from __future__ import annotations

import re

from ._common import _QUANTITY, Span
from .library import _place_at

# -- addresses --------------------------------------------------------------------------------
_ADMIN_SUFFIX = "省市区县旗州盟镇乡"
_STREET = (
    # Pickup points and a building's front desk first: alternatives are tried in order (门卫室, not 门).
    "自提点|自提柜|快递柜|代收点|快递点|网点|站点|服务站|丰巢|办公室|办公楼|门卫室|门卫|传达室|收发室|小卖部|柜|前台|护士站|住院部|门诊楼|门诊部|民宿|客栈|村委会|村委|"
    "街道|大道|路口|路|街|巷|弄|胡同|里|村|屯|组|社区|小区|花园|家园|公寓|大厦|广场|中心|大楼|园区|产业园|科技园|工业园|"
    "校区|大学|学院|师大|科大|工大|农大|医大|财大|交大|中学|小学|医院|宿舍|家属院|新村|苑|府|城|湾|庄|山庄|驿站|门|座|塔|舍|"
    "园|幢|栋|号楼|楼|斋|国际|公馆|华庭|庭|雅居|居|阁|郡|邸|天地|首府|世家|"
    # Schools, institutes, hotels and office blocks, parks and islands people live or work in.
    "高中|初中|幼儿园|院|酒店|宾馆|写字楼|基地|商场|商城|市场|厂房|厂|仓库|岛|道|"
    # A department on an office floor (…9楼 财务部, 大堂礼宾部).
    "部"
)
# Characters that make a would-be street part a phrase instead ("我不知道", "放我家门"): a place's name
# carries no particle or pronoun.
_PHRASE = "的了吗呢吧啊呀我你他她您就还把给被要想"
# Words that label a field of personal data: a street part never runs into one ("…3 层 财务部顾敏收
# 021-…", "…1803 电话 139…").
_NOT_PART = r"(?!收|电话|手机|联系|座机|微信|订单|单号|快递|身份|卡号|邮箱|号码)"


# A street-level part: a few characters ending in a street word (a park's 区 included: 高科技园区),
# or a number with its unit that is not a phone number ("A座1205", "男生11号楼", "3 组").
_PART = re.compile(
    rf"(?:(?:(?![{_PHRASE}])[\u4e00-\u9fa5A-Za-z0-9]){{0,10}}?(?:{_STREET})区?"
    rf"|(?:{_NOT_PART}[\u4e00-\u9fa5]){{0,6}}\s?(?![0-9]{{7}})(?!0[0-9]{{2,3}}[\- ][0-9])(?!{_QUANTITY})"
    r"[0-9A-Za-z]+(?:[\-#][0-9A-Za-z]+)*\s*(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|户|舍|期|组|门|区)?"
    r"|[一二三四五六七八九十]+[组社队区期段]|[东西南北]区"
    # Where two roads cross: 通达路 与 蒙山大道 交汇.
    r"|(?:与|和)\s?[\u4e00-\u9fa5]{1,8}?(?:路|街|大道)(?:\s?(?:交汇处?|交叉口|路口))?|交汇处?|交叉口"
    # A village's last detail: 东头第二家, 村委会对面小卖部.
    r"|(?:东头|西头|南头|北头|村口|对面|斜对面|旁边|隔壁|后面|前面|附近|路口)(?:第[一二三四五六七八九十0-9]+家|\s?[\u4e00-\u9fa5]{0,4}?(?:家|店|部|超市|驿站|门口))?)"
)
_NUMBERED = re.compile(
    r"[0-9０-９]+\s*(?:号|栋|幢|单元|室|楼|层|舍)|[一二三四五六七八九十]+组|(?:村|镇|乡|社区|小区|大学|学院|校区|公寓|大厦)"
)
_LEAD = re.compile(
    r"^(?:送到|寄到|发到|寄往|发往|送往|寄给|放到|放在|快递放|改成|改到|改为|换成|地址是|地址|是|在|住在|住|到|寄|送|放|"
    r"我家|家在|这边|我这边|我们|公司在|新地址|收货地址|老家)+"
)
_BOUNDARY = set(" \t\n，,。；;！!？?、:：()（）\"'“”【】[]")


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


# A name between spaces that ends in no street word (海甸岛 is one, 红谷凯旋, 关上, 劲松 are not): part
# of the address only when the address goes on after it.
_BRIDGE = re.compile(rf"{_NOT_PART}(?:(?![{_PHRASE}])[\u4e00-\u9fa5A-Za-z]){{2,8}}(?= [^ ])")


def _step(text: str, end: int, admin: bool = False) -> int:
    """The end of the next part after `end` (an admin level too with `admin`), perhaps past one
    bridging name; 0 when the address stops here."""
    j = _after_space(text, end)
    step = (admin and _admin_at(text, j) and j + _admin_at(text, j)) or _part_end(text, j)
    if step:
        return step
    # A name with no street word, right after the last part or one space on, when a part follows
    # it after a space (昌平区回龙观 龙泽苑, 浦东新区张江高科 碧波路690号).
    bridge = _BRIDGE.match(text, j)
    if not bridge:
        return 0
    k = bridge.end() + 1
    return (admin and _admin_at(text, k) and k + _admin_at(text, k)) or _part_end(text, k)


def _extend(text: str, end: int) -> int:
    """Take the street parts that follow `end`, each right after the last or one space on."""
    while end < len(text) and (step := _step(text, end)):
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
    rf"|(?:[东西南北中]{_NUM}?|[A-Za-z]|{_NUM})\s?(?:区|期|号院)|[东西南北中][一二三四五六七八九十0-9]{{1,2}}"
    # Where two roads cross: 青年路 与 建设路 交叉口.
    r"|(?:与|和)\s?[\u4e00-\u9fa5]{1,8}?(?:路|街|大道)(?:\s?(?:交汇处?|交叉口|路口))?)\s?)+$"
)


# An estate's name needs no street word when it stands as a field of its own ("我家 恒大绿洲 21栋…").
_NAMED_BEFORE = re.compile(rf"(?:^|(?<=[\s，,：:]))(?:(?![{_STOP}])[\u4e00-\u9fa5]){{2,8}}\s?$")


_NUMBERS_ONLY = re.compile(r"[\s0-9A-Za-z一二三四五六七八九十东西南北中期区号院]+")


def _estate_start(text: str, start: int, inner: int, bare: bool = True) -> int:
    """Where the estate or campus named before `start` begins (`start` when none is), the lead verb
    left out (送到 + …); a bare name stands before a phase or block number (绿地新都会 3期), and,
    with `bare`, alone as a field of its own."""
    before = _ESTATE_BEFORE.search(text, max(0, start - 40), start)
    if before and _NUMBERS_ONLY.fullmatch(before.group()):
        before = _NAMED_BEFORE.search(text, max(0, before.start() - 10), before.start()) or before
    before = before or (bare and _NAMED_BEFORE.search(text, max(0, start - 10), start))
    if not before:
        return start
    lead = _LEAD.match(text, before.start())
    return lead.end() if lead and lead.end() < inner else before.start()


# A pickup or shelf code is written like a flat (取件码3-5-2071) and is nobody's address.
_CODE_CUE = re.compile(r"(?:取件码|取货码|提货码|取餐码|货架号?|格口号?|柜号)\s*[：:]?\s*$")


def _flats(text: str) -> list[Span]:
    """Flats with the estate or campus named before them."""
    return [
        Span(_estate_start(text, m.start(), m.start()), _extend(text, m.end()), "address")
        for m in _FLAT.finditer(text)
        if not _CODE_CUE.search(text, max(0, m.start() - 8), m.start())
    ]


_PICKUP = re.compile(r"驿站|自提点|自提柜|快递柜|代收点|丰巢柜|门卫室|传达室|收发室")


def _pickups(text: str) -> list[Span]:
    """A pickup point or front desk with the estate or street named before it ("幸福小区东门菜鸟驿站",
    "青年路 与 建设路 交叉口 妈妈驿站"); the courier's brand may stand between (菜鸟, 丰巢)."""
    spans = []
    for m in _PICKUP.finditer(text):
        for brand in range(5):
            at = m.start() - brand
            if at <= 0 or (brand and not _cjk_run(text[at : m.start()])):
                break
            start = _estate_start(text, at, at, bare=False)
            if start < at:
                spans.append(Span(start, m.end(), "address"))
                break
    return spans


def _cjk_run(word: str) -> bool:
    return all("\u4e00" <= c <= "\u9fa5" for c in word)


_STREET_END = re.compile(rf"(?:{_STREET})区?$")
_ADDRESS_FIELD = re.compile(r"(?:地址|原址|新址|改址|住址)\s*(?:是|为|改为|改成)?\s*[:：]?\s*$")


def _addresses(text: str) -> list[Span]:
    spans: list[Span] = []
    i, n = 0, len(text)
    while i < n:
        size = _place_at(text, i)
        if not size:
            i += 1
            continue
        start, end, admins, parts = i, i + size, 1, 0
        # More admin levels, street parts and numbers, optionally one space apart.
        while end < n:
            j = _after_space(text, end)
            step = _admin_at(text, j)
            if step:
                end, admins = j + step, admins + 1
                continue
            step = _step(text, end)
            if not step:
                break
            end, parts = step, parts + 1
        body = text[start:end].rstrip()
        numbered, digits = _NUMBERED.search(body), re.search(r"[0-9]", body)
        # A place name alone ("广东发货", "发往新疆吗") is not an address; with a street part or a
        # door number after it, it is.
        # Two levels and a street part need no number: a road (拉萨市城关区北京中路) or any street
        # word (深圳市南山区科技园) names a place someone is; two levels alone do when a field calls
        # them an address (原址 杭州拱墅区).
        street = parts and _STREET_END.search(body)
        named = _ADDRESS_FIELD.search(text, max(0, start - 8), start)
        if (admins >= 2 and (numbered or digits or parts >= 2 or street or named)) or (numbered and digits):
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
    return _merge([_back(text, _trim(text, s)) for s in spans + _flats(text) + _pickups(text)], text)


# A street part standing on its own before an address, one space back (西南大学 + 北区 …).
_PART_BEFORE = re.compile(rf"(?:^|(?<=[\s，,：:]))(?:(?![{_PHRASE}])[\u4e00-\u9fa5A-Za-z0-9]){{1,10}}?(?:{_STREET})区? $")


def _back(text: str, span: Span) -> Span:
    """The span with the street parts just before it (the lead verb left out)."""
    start = span.start
    while start > 1 and (before := _PART_BEFORE.search(text, max(0, start - 14), start)):
        lead = _LEAD.match(text, before.start())
        start = lead.end() if lead and lead.end() < start - 1 else before.start()
        if lead:
            break
    return Span(start, span.end, span.kind) if start != span.start else span


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
