"""Remove buyers' personal data from text before it is stored anywhere.

Trainees paste real chats: phone numbers, ID numbers, addresses, order numbers and names in
"收件人：" lines must never reach the question log.
"""

from __future__ import annotations

import re

_NAME_FIELD = re.compile(
    r"((?:收件人|收货人|联系人|寄件人|买家姓名|姓名|名字)\s*[:：]?\s*)([\u4e00-\u9fa5·]{2,5}|[A-Za-z][A-Za-z .]{1,30})"
)
_ADDRESS_FIELD = re.compile(r"((?:收货地址|收件地址|详细地址|地址)\s*[:：]\s*)([^\n，,。；;]{4,80})")
_ADDRESS = re.compile(
    r"(?:[\u4e00-\u9fa5]{2,8}(?:省|自治区))?[\u4e00-\u9fa5]{2,8}(?:市|州|盟)"
    r"[\u4e00-\u9fa5]{1,8}(?:区|县|旗|镇)[\u4e00-\u9fa5A-Za-z0-9\-#号路街道巷弄村栋幢单元室楼层]{0,40}"
)
_ID_FIELD = re.compile(r"((?:身份证号?码?|证件号码?)\s*[:：]?\s*)([0-9]{6}[0-9]{8}[0-9]{3}[0-9Xx]|[0-9]{15})")
_ID = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])")
_ORDER_FIELD = re.compile(
    r"((?:订单号|订单编号|运单号|快递单号|物流单号|单号)\s*[:：]?\s*)([A-Za-z]{0,4}[0-9][0-9A-Za-z\-]{5,39})"
)
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[\s\-]?)?1[3-9][0-9](?:[\s\-]?[0-9]{4}){2}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[0-9]{2,3}[\s\-]?[0-9]{7,8}(?![0-9])")
_LONG_NUMBER = re.compile(r"(?<![0-9])[0-9]{12,}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def redact(text: str) -> str:
    """Replace personal data with labels such as [手机号] and [地址].

    Field-labelled values go first (they are the surest), then free-standing patterns.
    """
    text = _NAME_FIELD.sub(lambda m: m.group(1) + "[姓名]", text)
    text = _ADDRESS_FIELD.sub(lambda m: m.group(1) + "[地址]", text)
    text = _ID_FIELD.sub(lambda m: m.group(1) + "[身份证号]", text)
    text = _ID.sub("[身份证号]", text)
    text = _ORDER_FIELD.sub(lambda m: m.group(1) + "[订单号]", text)
    text = _EMAIL.sub("[邮箱]", text)
    text = _MOBILE.sub("[手机号]", text)
    text = _LANDLINE.sub("[电话]", text)
    text = _LONG_NUMBER.sub("[订单号]", text)
    text = _ADDRESS.sub("[地址]", text)
    return text
