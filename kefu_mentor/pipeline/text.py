"""Chinese text handling: clean-up, sentence splitting, and jieba tokens for BM25."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import jieba
import numpy as np

# Domain words jieba would otherwise split (询单 / 转化率 …) so BM25 matches them whole.
DOMAIN_WORDS = (
    "网店客服",
    "售前客服",
    "售后客服",
    "投诉客服",
    "物流客服",
    "询单转化率",
    "客单价",
    "接待人数",
    "响应时间",
    "退款率",
    "满意度",
    "中差评",
    "差评",
    "好评",
    "催付",
    "催单",
    "催发货",
    "议价",
    "砍价",
    "包邮",
    "七天无理由",
    "7天无理由",
    "退换货",
    "退货",
    "换货",
    "退款",
    "运费险",
    "钓鱼网站",
    "木马病毒",
    "阿里旺旺",
    "旺旺",
    "千牛",
    "京东咚咚",
    "抖音小店",
    "飞鸽",
    "店小蜜",
    "智能客服",
    "人工客服",
    "转人工",
    "关联销售",
    "搭配销售",
    "老客户",
    "回头客",
    "回访",
    "VIP",
    "FAB",
    "DSR",
    "动态评分",
    "平台规则",
    "如实描述",
    "描述不符",
    "违背承诺",
    "泄露他人信息",
    "评价规则",
    "恶意评价",
    "恶意差评",
    "物流信息",
    "平邮",
    "快邮",
    "EMS",
    "顺丰",
    "铁路运输",
    "公路运输",
    "水路运输",
    "航空运输",
    "商品知识",
    "同类商品",
    "语言表达能力",
    "心理素质",
    "沟通心态",
    "应变能力",
    "齐加尼克效应",
    "名片效应",
    "比伦定律",
    "投射效应",
    "古德曼定理",
    "毛毛虫效应",
    "吉格勒定理",
    "互惠原理",
    "色差",
    "尺码",
    "发票",
    "电子发票",
    "订单备注",
    "客服ID",
    "双胞胎ID",
    "已卖出的宝贝",
    "卖家中心",
    "拍下",
    "付款",
    "发货",
    "快递",
    "物流",
    "签收",
    "拒收",
    "丢件",
    "破损",
    "纠纷",
    "举证",
    "平台介入",
    "直播间",
    "客户关系管理",
    "忠诚度",
    "复购",
    "人工智能训练师",
    "快捷短语",
)

# Colloquial words agents type, mapped to the words the material uses. Used to expand BM25
# queries only (the dense model already relates them); each group is symmetric.
SYNONYM_GROUPS = (
    ("买家", "顾客", "客户", "消费者", "客人", "亲"),
    ("差评", "中差评", "中评", "负面评价", "恶意差评"),
    ("催单", "催付", "催款", "未付款"),
    ("催发货", "发货", "发货时间"),
    ("退款", "退货", "退换货", "售后", "换货"),
    ("快递", "物流", "包裹", "运输"),
    ("便宜", "优惠", "议价", "砍价", "降价", "打折", "价格"),
    ("骂", "抱怨", "责骂", "投诉", "辱骂"),
    ("生气", "情绪", "发火", "愤怒"),
    ("压力", "心理素质", "焦虑", "崩溃", "委屈"),
    ("链接", "网址", "钓鱼网站"),
    ("地址", "订单信息", "个人信息", "隐私", "手机号"),
    ("承诺", "保证", "答应"),
    ("颜色", "色差"),
    ("假货", "正品", "真伪", "真假"),
    ("客服", "店员", "小二"),
    ("商品", "宝贝", "货", "产品", "东西"),
    ("描述", "详情页", "如实描述"),
    ("评价", "评分", "打分", "好评"),
    ("旺旺", "阿里旺旺", "千牛", "聊天工具"),
    ("智能客服", "机器人", "店小蜜", "自动回复"),
    ("人工客服", "转人工", "人工"),
)

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])(?![”’」』）)])|(?<=[。！？][”’」』）)])")
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TOKEN_KEEP = re.compile(r"[\w\u4e00-\u9fff]")
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 就 都 而 及其 以及 等 把 被 让 给 对 对于 从 向 为 为了 以 之 其 这 那 这个 那个 这些 那些 "
    "一个 一些 一种 我 你 他 她 它 我们 你们 他们 咱 咱们 啥 什么 怎么 怎么办 怎样 如何 吗 呢 吧 啊 呀 哦 嘛 哈 呗 么 "
    "请问 请 一下 可以 能 能不能 可不可以 要 会 该 应该 有 没有 没 不 很 太 还 又 再 才 多少 几 哪 哪些 哪个 为什么 "
    "是不是 有没有 一般 是否 时候 时 上 下 中 里 吧 咋 咋办 呐 嗯 噢 喔 哎 诶 着 过 得 地 个 想 说 问 知道 告诉".split()
)


def clean_text(text: str) -> str:
    """Normalise what a user typed: NFKC, no control bytes, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return _WHITESPACE.sub(" ", text).strip()


_SCRIPT_BLOCK = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^<>\u4e00-\u9fff]{0,300}>")


def strip_markup(text: str) -> str:
    """Drop HTML tags and script bodies pasted along with a question.

    Used only for searching: the page still shows (escaped) what the user typed. If nothing
    but markup is left, the text is returned unchanged so the user gets an answer to it.
    """
    stripped = _WHITESPACE.sub(" ", _TAG.sub(" ", _SCRIPT_BLOCK.sub(" ", text))).strip()
    return stripped or text


@lru_cache(maxsize=1)
def _t2s():
    # Traditional → simplified, so 「退貨」 finds 退货. Pure-Python OpenCC port: no native build.
    from opencc import OpenCC

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def word_chars(text: str) -> str:
    """The text's letters, digits and Chinese characters, lower-cased (punctuation and spaces dropped)."""
    return "".join(_TOKEN_KEEP.findall(text.lower()))


def char_trigrams(text: str) -> frozenset[str]:
    """Every run of three of its `word_chars`: words shared with a passage even where jieba cuts
    them differently."""
    chars = word_chars(text)
    return frozenset(chars[i : i + 3] for i in range(len(chars) - 2))


class TrigramUnits:
    """The `char_trigrams` of many groups of texts (per passage: its text, its pieces, its
    phrasings), kept as integer ids: a Python string per trigram cost about 37 KB a passage, an
    estimated 1.5 GB more for a corpus a hundred times ours.

    `add(texts)` stores one group and returns its number; `overlaps(mask(asked), group)` gives,
    per text of the group, how many of `asked`'s trigrams it holds and how many it has.
    Read-only after the texts are added (safe to share across threads).
    """

    def __init__(self):
        self._vocab: dict[str, int] = {}
        self._groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # flat ids, starts, sizes

    def add(self, texts: Sequence[str]) -> int:
        units = [[self._vocab.setdefault(t, len(self._vocab)) for t in char_trigrams(text)] for text in texts]
        units = [u for u in units if u]  # a text of under three characters matches nothing
        sizes = np.array([len(u) for u in units], dtype=np.int32)
        starts = (np.cumsum(sizes) - sizes).astype(np.int32)
        flat = np.array([i for u in units for i in u], dtype=np.int32)
        self._groups.append((flat, starts, sizes))
        return len(self._groups) - 1

    def mask(self, asked: frozenset[str]) -> np.ndarray:
        """Which known trigrams `asked` holds (one query's side of `overlaps`)."""
        mask = np.zeros(len(self._vocab), dtype=bool)
        ids = [self._vocab[t] for t in asked if t in self._vocab]
        mask[ids] = True
        return mask

    def overlaps(self, mask: np.ndarray, group: int) -> tuple[np.ndarray, np.ndarray]:
        """Per text of `group`: the trigrams it shares with the query of `mask`, and its own count."""
        flat, starts, sizes = self._groups[group]
        if not len(sizes):
            return sizes, sizes
        return np.add.reduceat(mask[flat].astype(np.int32), starts), sizes


def split_sentences(text: str) -> list[str]:
    """Split on Chinese sentence ends (。！？；) and line breaks, keeping the punctuation."""
    sentences = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        for part in _SENTENCE_END.split(line):
            part = part.strip()
            if part:
                sentences.append(part)
    return sentences


def has_meaningful_text(text: str) -> bool:
    """True when the text has at least one letter, digit or Chinese character."""
    return bool(_TOKEN_KEEP.search(text))


class Tokenizer:
    """jieba tokens for BM25: domain words kept whole, stopwords and punctuation dropped.

    Uses its own `jieba.Tokenizer` so adding domain words changes no global state, and a
    lock because jieba's lazy initialisation is not thread-safe.
    """

    def __init__(self) -> None:
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._ready = False
        self._synonyms: dict[str, tuple[str, ...]] = {}
        for group in SYNONYM_GROUPS:
            for word in group:
                self._synonyms[word] = tuple(dict.fromkeys(self._synonyms.get(word, ()) + group))

    def _ensure_ready(self) -> None:
        with self._lock:
            if not self._ready:
                jieba.setLogLevel(60)
                self._jieba.initialize()
                for word in DOMAIN_WORDS + tuple(w for g in SYNONYM_GROUPS for w in g):
                    self._jieba.add_word(word, freq=20000)
                self._ready = True

    def tokenize(self, text: str) -> list[str]:
        if not self._ready:
            self._ensure_ready()
        text = clean_text(text).lower()
        tokens = []
        for token in self._jieba.cut_for_search(text):
            token = token.strip()
            if token and token not in STOPWORDS and _TOKEN_KEEP.search(token):
                tokens.append(token)
        return tokens

    def expand(self, tokens: list[str]) -> list[str]:
        """Add the material's words for colloquial ones (each synonym once)."""
        out = list(tokens)
        seen = set(tokens)
        for token in tokens:
            for synonym in self._synonyms.get(token, ()):
                if synonym not in seen:
                    seen.add(synonym)
                    out.append(synonym)
        return out
