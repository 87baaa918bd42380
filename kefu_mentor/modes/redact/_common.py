"""What every finder shares: the kinds of personal data with their labels, the span type, and
the pattern for a quantity (a number with its measure), which is neither a door number nor a name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).with_name("data")  # the tables and the learned model that ship with the code


def table_rows(path: Path) -> list[str]:
    """The rows of a table in `DATA`, blank lines and `#` comments left out (none when it is absent)."""
    if not path.exists():
        return []
    return [row for row in path.read_text(encoding="utf-8").splitlines() if row.strip() and not row.startswith("#")]


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


# A number with its measure is a quantity, not a door number: "黄山毛峰 250g", "枸杞 500 克".
_QUANTITY = (
    r"[0-9]+(?:\.[0-9]+)?\s*(?:[gGLl](?![A-Za-z])|kg|KG|Kg|ml|mL|ML|cm|mm|克|斤|公斤|千克|元|块|件|个|瓶|包|箱|盒|袋|罐|支|片|粒|"
    r"米|厘米|寸|码|岁|天|小时|分钟|度|%|折|次|年|月|日)"
)
