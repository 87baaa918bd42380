"""Remove buyers' personal data from text before it is stored anywhere.

Trainees paste real chats, and the textbook's first rule is 不能泄露他人信息. What a maintained
library recognises comes from jionlp (phone numbers, ID cards, e-mail, QQ and WeChat ids, its
gazetteer of Chinese provinces, cities and counties for addresses, and its traditional-to-simplified
character table, applied before reading at the same offsets); our own patterns cover only
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

One module per kind of finding (`numbers`, `addresses`, `names`, which reads names through
`name_reading`), all built on `library` (jionlp and its gazetteer) and `_common` (the span type);
this module resolves where their findings overlap. Imports go one way: nothing here is imported back.
"""

from __future__ import annotations

import re

from . import library
from ._common import KINDS_ZH, LABELS, Span
from .addresses import _addresses
from .name_model import NameModel, model
from .names import _names, listed_names, not_people
from .numbers import _HALF, _numbers

__all__ = ["KINDS_ZH", "LABELS", "SHIPPED", "Span", "find", "redact", "warm"]


# -- putting it together -------------------------------------------------------------------------
_FIELD = re.compile(
    r"(?:收货地址|收件地址|详细地址|地址)\s*[:：]\s*([^\n，,。；;]{4,80}?)(?=\s+(?:电话|手机|联系|收件人|收货人|姓名)|[\n，,。；;]|$)"
)
# When two findings overlap, the more specific wins (an ID card is also a long number …).
_PRIORITY = ["email", "id_card", "bank_card", "wechat", "qq", "phone", "landline", "tracking", "order", "address", "name"]
_RANK = {kind: i for i, kind in enumerate(_PRIORITY)}


def warm() -> None:
    """Load jionlp, the gazetteer, jieba and the name model ahead of the first question (the app
    does this while it loads)."""
    library.warm()
    learned = model()
    if learned is not None:
        learned.spans("收件人张三")


SHIPPED = object()  # `find`'s default: the name model that ships with the code


def find(text: str, name_model: NameModel | None | object = SHIPPED) -> list[Span]:
    """Non-overlapping spans of personal data in `text`, in order. `name_model` is the learned
    second reading of names (`name_model.model()` by default; None: the rules alone)."""
    if not text:
        return []
    # Half-width, simplified characters: the same length, so offsets stay valid.
    normalised = text.translate(_HALF).translate(library.simplified())
    numbers = _numbers(normalised)
    found = numbers + _trimmed(normalised, _addresses(normalised), numbers)
    found += _names(normalised, found)
    learned = model() if name_model is SHIPPED else name_model
    if learned is not None:
        # Where a learned name overlaps a rule's finding, the order below decides as for any
        # two findings: an address or a number first, then the longer name.
        found += learned.spans(normalised)
    found += listed_names(normalised, found)  # the others in a list with names found by either reading
    found = _after_names(not_people(normalised, found))
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
        end = min((n.start for n in numbers if n.kind in _CONTACT and address.start < n.start < address.end), default=address.end)
        while end != address.end and end > address.start and text[end - 1].isspace():
            end -= 1
        out.append(Span(address.start, end, address.kind) if end != address.end else address)
    return out


def _after_names(found: list[Span]) -> list[Span]:
    """An address does not start inside a name that starts before it: "客户严子墨改寄天津市…" read
    as the address "墨改寄天津市…" would otherwise win over the name (an address outranks a name),
    leaving 严子 in the text. The address then starts where the name ends."""
    names = [s for s in found if s.kind == "name"]
    out = []
    for span in found:
        if span.kind == "address":
            cut = max((n.end for n in names if n.start < span.start < n.end), default=span.start)
            span = Span(cut, span.end, span.kind) if cut < span.end else span
        out.append(span)
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
