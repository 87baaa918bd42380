"""A learned second reading of person names, beside the cue-word rules in `names`.

The rules recognise a name by the words around it, and each fresh blind set shows contexts they
have never seen (前台卢佳, 李晓娜、赵磊, 亓凯的退货). This model scores every surname + one or
two characters in a line instead, from what a rule cannot list: how common the surname is (1,074
surnames with their frequencies, `data/surnames.tsv`), how much the given characters look like a
given name rather than ordinary text (from jieba's dictionary: its three-character person names
against all its words), whether the candidate is itself a dictionary word, where jieba's tagger
puts word boundaries, and the characters and tags right before and after it. It is a logistic
regression trained on the dev privacy lines, on lines written to train it (`data/name_lines.yaml`)
and on sentences of our own corpus as counter-examples (`kefu-mentor train-names`), stored as
JSON beside this file; its threshold is chosen by leaving each dev batch out in turn.

`spans(text)` gives the names it reads with at least the stored threshold; `redact.find` takes
them together with the rules' findings (where they overlap, the longer name wins).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from ._common import DATA, Span, table_rows
from .name_reading import (
    _COMPOUND,
    _SINGLE,
    _about_person,
    _after_cue_or_break,
    _brand_after,
    _known,
    _name_at,
    _posseg,
    _product_after,
)

SURNAMES_FILE = DATA / "surnames.tsv"
MODEL_FILE = DATA / "name_model.json"
LINES_FILE = DATA / "name_lines.yaml"
# The threshold `train-names` writes unless told otherwise: the one its --cv (each dev batch left
# out in turn) chose last, names 0.954 at 0.015 of clean lines changed.
THRESHOLD = 0.4
_HAN = re.compile(r"[\u4e00-\u9fa5]+")


@lru_cache(maxsize=1)
def surnames() -> dict[str, int]:
    """Surname → frequency; our own 百家姓 list fills in what the file lacks (凃, 亓官 …) at the
    file's lowest frequency."""
    table: dict[str, int] = {}
    for line in table_rows(SURNAMES_FILE):
        name, freq = line.split("\t")
        table[name] = int(freq)
    floor = min(table.values())
    for name in (*_SINGLE, *_COMPOUND):
        table.setdefault(name, floor)
    return table


@lru_cache(maxsize=1)
def _freq() -> dict[str, int]:
    """jieba's dictionary, word → frequency (loaded on first use)."""
    import jieba

    _posseg()
    jieba.dt.check_initialized()
    return jieba.dt.FREQ


@lru_cache(maxsize=1)
def _char_counts() -> tuple[Counter, int, Counter, int]:
    """Characters of given names (in jieba's three-character person names with a common surname)
    and characters of all dictionary words weighted by their frequency."""
    table = surnames()
    given: Counter = Counter()
    for word, tag in _known().items():
        if tag == "nr" and len(word) == 3 and table.get(word[0], 0) >= 50:
            given.update(word[1:])
    text: Counter = Counter()
    for word, freq in _freq().items():
        if freq and len(word) <= 4:
            for c in word:
                text[c] += freq
    return given, sum(given.values()), text, sum(text.values())


@lru_cache(maxsize=8192)
def _given_score(c: str) -> float:
    """log P(c in a given name) − log P(c in ordinary text): 婷 is high, 的 and 可 are low."""
    given, n_given, text, n_text = _char_counts()
    return math.log((given.get(c, 0) + 0.5) / n_given) - math.log((text.get(c, 0) + 1) / n_text)


def _kind(ch: str) -> str:
    if not ch:
        return "edge"
    if ch.isspace():
        return "space"
    if ch.isdigit():
        return "digit"
    if ch.isascii() and ch.isalpha():
        return "latin"
    if "\u4e00" <= ch <= "\u9fa5":
        return "han"
    return "mark"


def _log(freq: float) -> float:
    return math.log1p(freq) / 10


def candidates(text: str) -> list[tuple[int, int, int]]:
    """(start, surname length, given length) for every surname followed by one or two Han characters."""
    table, out = surnames(), []
    for i in range(len(text)):
        for s in (2, 1):
            if text[i : i + s] in table and len(text[i : i + s]) == s:
                for g in (1, 2):
                    end = i + s + g
                    if end <= len(text) and _HAN.fullmatch(text, i, end):
                        out.append((i, s, g))
    return out


_WINDOW = 6  # characters on each side that jieba's tagger sees around a candidate


@lru_cache(maxsize=4096)
def _segmented(window: str) -> tuple[tuple[tuple[int, int, str], ...], tuple[int, ...]]:
    """jieba's words of a short window as (start, end, tag), and the word each character belongs
    to. A window, not the whole line: the tagger's HMM costs most of the time, and windows repeat."""
    words, owner, pos = [], [], 0
    for k, pair in enumerate(_posseg().lcut(window)):
        words.append((pos, pos + len(pair.word), pair.flag))
        owner += [k] * len(pair.word)
        pos += len(pair.word)
    return tuple(words), tuple(owner)


def cheap_features(text: str, i: int, s: int, g: int) -> dict[str, float]:
    """What the model weighs for text[i : i+s+g] as surname (s characters) + given name (g),
    from dictionary look-ups alone."""
    freq, tags = _freq(), _known()
    end = i + s + g
    cand, given = text[i:end], text[i + s : end]
    before, after = text[i - 1 : i] if i else "", text[end : end + 1]
    scores = [_given_score(c) for c in given]
    sur_freq = surnames().get(text[i : i + s], 0)
    f = {
        "bias": 1.0,
        f"given:{g}": 1.0,
        f"surname:{s}": 1.0,
        "surname_freq": math.log1p(sur_freq) / 5,
        f"surname_band:{min(4, int(math.log10(sur_freq + 1)))}": 1.0,
        "given_sum": sum(scores) / 5,
        "given_min": min(scores) / 5,
        "word_freq": _log(freq.get(cand) or 0),
        f"word_tag:{tags.get(cand, '-')}": 1.0,
        f"given_tag:{tags.get(given, '-')}": 1.0,
        "given_freq": _log(freq.get(given) or 0),
        # A word across either edge says the edge is not a name's (于是 + 买家, 白天 + 收).
        "join_left": _log(freq.get(text[i - 1 : i + 1]) or 0) if i else 0.0,
        "join_left2": _log(freq.get(text[i - 2 : i + 1]) or 0) if i >= 2 else 0.0,
        "join_right": _log(freq.get(text[end - 1 : end + 1]) or 0) if after else 0.0,
        "join_right2": _log(freq.get(text[end - 1 : end + 2]) or 0) if after else 0.0,
        "longer_word": _log(freq.get(text[i : end + 1]) or 0) if after else 0.0,
        f"left:{_kind(before)}": 1.0,
        f"right:{_kind(after)}": 1.0,
        "digits_after": 1.0 if re.match(r"\s*[，,:：]?\s*[0-9+]", text[end : end + 4]) else 0.0,
        "repeated": 1.0 if text.count(cand) > 1 else 0.0,
    }
    if _kind(before) == "han":
        f[f"left1:{before}"] = 1.0
        if i >= 2 and _kind(text[i - 2]) == "han":
            f[f"left2:{text[i - 2 : i]}"] = 1.0
    if _kind(after) == "han":
        f[f"right1:{after}"] = 1.0
        if _kind(text[end + 1 : end + 2]) == "han":
            f[f"right2:{text[end : end + 2]}"] = 1.0
    return f


# Features from jieba's tagger and the rules' readings: the costly part, computed only for a
# candidate whose cheap features leave it a chance (see NameModel.scored).
COSTLY = ("brand_after", "about_person", "cue_or_break", "rule_reading", "word_starts", "word_ends")
COSTLY_GROUPS = ("first_tag:", "last_tag:", "one_word:", "tag_before:", "tag_after:", "word_before:", "word_after:")


def costly_features(text: str, i: int, s: int, g: int) -> dict[str, float]:
    end = i + s + g
    f = {
        "brand_after": 1.0 if _brand_after(text, end) else 0.0,
        "about_person": 1.0 if _about_person(text, end) else 0.0,
        "cue_or_break": 1.0 if _after_cue_or_break(text, i) else 0.0,
        "rule_reading": 1.0 if _name_at(text, i) == s + g else 0.0,
    }
    left = max(0, i - _WINDOW)
    words, owner = _segmented(text[left : end + _WINDOW])
    first, last = owner[i - left], owner[end - 1 - left]
    starts, ends = words[first][0] == i - left, words[last][1] == end - left
    f[f"first_tag:{words[first][2][:2]}"] = 1.0
    f[f"last_tag:{words[last][2][:2]}"] = 1.0
    f["word_starts"], f["word_ends"] = float(starts), float(ends)
    if starts and ends:
        f["one_word:" + (words[first][2][:2] if first == last else "several")] = 1.0
    window = text[left : end + _WINDOW]
    if starts and first > 0:
        f[f"tag_before:{words[first - 1][2][:2]}"] = 1.0
        f[f"word_before:{window[words[first - 1][0] : words[first - 1][1]]}"] = 1.0
    if ends and last + 1 < len(words):
        f[f"tag_after:{words[last + 1][2][:2]}"] = 1.0
        f[f"word_after:{window[words[last + 1][0] : words[last + 1][1]]}"] = 1.0
    return f


def features(text: str, i: int, s: int, g: int) -> dict[str, float]:
    return {**cheap_features(text, i, s, g), **costly_features(text, i, s, g)}


@dataclass(frozen=True)
class NameModel:
    weights: dict[str, float]
    threshold: float

    def _z(self, feats: dict[str, float]) -> float:
        return sum(self.weights.get(k, 0.0) * v for k, v in feats.items())

    @cached_property
    def _costly_bound(self) -> float:
        """The most the costly features can add to a candidate's score."""
        bound = sum(max(0.0, self.weights.get(k, 0.0)) for k in COSTLY)
        for prefix in COSTLY_GROUPS:
            bound += max([0.0] + [w for k, w in self.weights.items() if k.startswith(prefix)])
        return bound

    def scored(self, text: str, threshold: float = 0.0) -> list[tuple[float, int, int]]:
        """(probability, start, end) of the candidates in `text` that may reach `threshold`
        (every candidate at 0): one whose cheap score plus the most the costly features could
        add stays below it is left out without computing them."""
        bar = math.log(threshold / (1 - threshold)) if 0 < threshold < 1 else -math.inf
        out = []
        for i, s, g in candidates(text):
            if _product_after(text, i + s + g):  # 戴尔 XPS13: a product, as the rules read it too
                continue
            z = self._z(cheap_features(text, i, s, g))
            if z + self._costly_bound < bar:
                continue
            z += self._z(costly_features(text, i, s, g))
            out.append((1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))), i, i + s + g))
        return out

    def spans(self, text: str, threshold: float | None = None) -> list[Span]:
        """Names read with at least `threshold` (the stored one by default), the likelier first
        where two overlap."""
        bar = self.threshold if threshold is None else threshold
        taken, used = [], set()
        for p, start, end in sorted(self.scored(text, bar), reverse=True):
            if p < bar:
                break
            if used.isdisjoint(range(start, end)):
                taken.append(Span(start, end, "name"))
                used.update(range(start, end))
        return taken

    def save(self, path: Path = MODEL_FILE, **about) -> None:
        weights = {k: round(v, 5) for k, v in sorted(self.weights.items()) if abs(v) >= 1e-4}
        body = {"threshold": self.threshold, **about, "weights": weights}
        path.write_text(json.dumps(body, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> NameModel:
        body = json.loads(path.read_text(encoding="utf-8"))
        return cls({k: float(v) for k, v in body["weights"].items()}, float(body["threshold"]))


@lru_cache(maxsize=1)
def model() -> NameModel | None:
    """The shipped model, or None when it has not been trained (the rules then work alone)."""
    return NameModel.load() if MODEL_FILE.exists() else None


def train(examples: list[tuple[dict[str, float], int]], c: float = 10.0, steps: int = 400) -> dict[str, float]:
    """Logistic regression with an L2 penalty of 1/(2c)·‖w‖² (the bias not penalised), fitted by
    full-batch Adam on sparse features: weights by feature name."""
    import numpy as np

    names = sorted({k for feats, _ in examples for k in feats})
    index = {k: j for j, k in enumerate(names)}
    rows, cols, vals = [], [], []
    for r, (feats, _) in enumerate(examples):
        for k, v in feats.items():
            rows.append(r)
            cols.append(index[k])
            vals.append(v)
    rows_a, cols_a, vals_a = np.array(rows), np.array(cols), np.array(vals)
    y = np.array([label for _, label in examples], dtype=float)
    w = np.zeros(len(names))
    m = np.zeros_like(w)
    v2 = np.zeros_like(w)
    penalty = np.full(len(names), 1.0 / c)
    penalty[index["bias"]] = 0.0
    for step in range(1, steps + 1):
        z = np.bincount(rows_a, weights=vals_a * w[cols_a], minlength=len(y))
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        grad = np.bincount(cols_a, weights=vals_a * (p - y)[rows_a], minlength=len(w)) + penalty * w
        m = 0.9 * m + 0.1 * grad
        v2 = 0.999 * v2 + 0.001 * grad**2
        w -= 0.1 * (m / (1 - 0.9**step)) / (np.sqrt(v2 / (1 - 0.999**step)) + 1e-8)
    return {k: float(w[j]) for k, j in index.items()}


def examples(lines: list[dict]) -> list[tuple[int, dict[str, float], int]]:
    """(line number, features, is a name) for every candidate in lines labelled like
    `eval/privacy/*.yaml`: a candidate is a name when a 姓名 span covers exactly it."""
    from .numbers import _HALF

    out = []
    for n, line in enumerate(lines):
        text = line["text"].translate(_HALF)
        gold = {
            (m.start(), m.end())
            for want in line["spans"]
            if want["type"] == "姓名"
            for m in re.finditer(re.escape(want["text"]), text)
        }
        out += [(n, features(text, i, s, g), int((i, i + s + g) in gold)) for i, s, g in candidates(text)]
    return out
