"""Redaction measured on the blind privacy set (`eval/privacy/{dev,test}.yaml`).

Each line lists the spans that must disappear. A span counts as removed when at least 90% of its
non-space characters fall inside what `redact.find` replaces (a name with one character left, or
an address with its door number left, is a leak). A clean line counts as changed when anything
in it is replaced.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path

import yaml

from ..modes.redact import SHIPPED, find
from ..modes.redact import name_model as nm

PRIVACY_DIR = Path("eval/privacy")
TYPES = ["手机号", "座机", "身份证", "银行卡", "邮箱", "QQ", "微信", "地址", "姓名", "订单号", "快递单号"]
# Targets from the issue: recall per type, and the share of clean lines changed.
TARGETS = {"手机号": 0.99, "身份证": 0.99, "银行卡": 0.99, "邮箱": 0.99, "地址": 0.95, "姓名": 0.95, "QQ": 0.95, "微信": 0.95}
MAX_CLEAN_CHANGED = 0.05


def load(split: str, folder: Path = PRIVACY_DIR) -> list[dict]:
    return yaml.safe_load((folder / f"{split}.yaml").read_text(encoding="utf-8"))


def _covered(text: str, start: int, end: int, spans) -> float:
    wanted = [i for i in range(start, end) if not text[i].isspace()]
    if not wanted:
        return 1.0
    hit = sum(any(s.start <= i < s.end for s in spans) for i in wanted)
    return hit / len(wanted)


def evaluate(lines: list[dict], name_model=SHIPPED) -> dict:
    """Recall per type and clean lines changed; `name_model` is a NameModel, None (the rules
    alone) or, by default, the shipped model."""
    found_by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[tuple[str, str, str]] = []
    clean = changed = 0
    changed_lines: list[str] = []
    for line in lines:
        text = line["text"]
        spans = find(text, name_model)
        if not line["spans"]:
            clean += 1
            if spans:
                changed += 1
                changed_lines.append(text)
            continue
        for want in line["spans"]:
            start = text.find(want["text"])
            ok = start >= 0 and _covered(text, start, start + len(want["text"]), spans) >= 0.9
            found_by_type[want["type"]][0] += ok
            found_by_type[want["type"]][1] += 1
            if not ok:
                misses.append((want["type"], want["text"], text))
    recall = {t: round(found_by_type[t][0] / found_by_type[t][1], 3) for t in TYPES if found_by_type[t][1]}
    return {
        "lines": len(lines),
        "spans": {t: found_by_type[t][1] for t in TYPES if found_by_type[t][1]},
        "recall": recall,
        "clean_lines": clean,
        "clean_changed": round(changed / clean, 3) if clean else 0.0,
        "misses": misses,
        "changed_lines": changed_lines,
    }


def speed(chars: int = 2000, repeat: int = 20) -> float:
    """Milliseconds to redact one question of `chars` characters (median of `repeat`)."""
    sample = (
        "买家说：我叫李雷，手机 138 1234 5678，送到 杭州 西湖区 文三路 90 号，订单号 402938571620394817，"
        "衣服小了能换吗？这个面料起球吗，170/92A 穿 M 还是 L？"
    )
    text = (sample * (chars // len(sample) + 1))[:chars]
    find(text)  # load the library and the gazetteer first
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        find(text)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]


# -- the learned name reading --------------------------------------------------------------------
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def corpus_lines(corpus_dir: Path = Path("corpus")) -> list[dict]:
    """Counter-examples in learners' and buyers' words: our buyer phrasings and situations
    (`corpus/scenarios`, `corpus/situations`) and the sentences of the book and our cards. They
    hold no buyer's data (placeholders such as [订单编号]; sentences with a 先生/女士 example are
    left out), and the privacy set's clean lines are few and about products: without these the
    model reads 师傅说, 天天来问 or 张贺卡 as names in a learner's question."""
    texts: list[str] = []

    def walk(node) -> None:
        if isinstance(node, str):
            texts.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted([*corpus_dir.glob("scenarios/*.yaml"), *corpus_dir.glob("situations/*.yaml")]):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    for path in sorted([*corpus_dir.glob("textbook/*.md"), *corpus_dir.glob("supplement/*.md")]):
        for line in path.read_text(encoding="utf-8").splitlines():
            texts += re.split(r"(?<=[。！？])", line.strip())
    keep = [t for t in texts if len(t) >= 4 and re.search(r"[\u4e00-\u9fa5]{2}", t) and not re.search(r"先生|女士|小姐", t)]
    return [{"text": t, "spans": [], "origin": "corpus"} for t in dict.fromkeys(keep)]


def name_lines(path: Path = nm.LINES_FILE) -> list[dict]:
    """Lines written to train the name model (names in many contexts, and lines with words that
    look like names but are not), by helpers who never saw the redaction code; never evaluated on."""
    if not path.exists():
        return []
    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [
        {"text": item["text"], "spans": [{"type": "姓名", "text": n} for n in item["names"]], "origin": "written"}
        for item in items
    ]


def cross_validate(lines: list[dict], c: float = 10.0, extra: list[dict] = ()) -> dict:
    """Leave each dev batch (`origin`) out in turn: train on the others, redact the batch left
    out with the rules alone and with the rules and the model at each threshold. Names recall and
    clean lines changed, summed over batches, are what the threshold is chosen on: figures the
    model never saw, unlike the rules' own dev figures (the rules were written on these lines)."""
    rows = nm.examples(lines)
    always = [(f, y) for _, f, y in nm.examples(list(extra))]
    batches = sorted({line.get("origin", "dev") for line in lines})
    out: dict[str, list] = {"rules": [], **{f"{t:.1f}": [] for t in THRESHOLDS}}
    for batch in batches:
        held = [line for line in lines if line.get("origin", "dev") == batch]
        keep = {n for n, line in enumerate(lines) if line.get("origin", "dev") != batch}
        weights = nm.train([(f, y) for n, f, y in rows if n in keep] + always, c=c)
        out["rules"].append(_names_and_clean(evaluate(held, None)))
        for t in THRESHOLDS:
            out[f"{t:.1f}"].append(_names_and_clean(evaluate(held, nm.NameModel(weights, t))))
    summary = {}
    for key, parts in out.items():
        names = sum(p[0] for p in parts), sum(p[1] for p in parts)
        clean = sum(p[2] for p in parts), sum(p[3] for p in parts)
        summary[key] = {
            "names": round(names[0] / max(names[1], 1), 3),
            "clean_changed": round(clean[0] / max(clean[1], 1), 3),
            "by_batch": {b: round(p[0] / max(p[1], 1), 3) for b, p in zip(batches, parts, strict=True)},
        }
    return summary


def _names_and_clean(result: dict) -> tuple[int, int, int, int]:
    total = result["spans"].get("姓名", 0)
    missed = sum(1 for kind, _, _ in result["misses"] if kind == "姓名")
    return total - missed, total, len(result["changed_lines"]), result["clean_lines"]


def train_names(
    lines: list[dict], threshold: float, c: float = 10.0, extra: list[dict] = (), path: Path = nm.MODEL_FILE
) -> nm.NameModel:
    """The model on all dev lines and the `extra` counter-examples, with the threshold chosen by
    `cross_validate`; saved to `path` (beside the code by default, where `redact` reads it)."""
    rows = nm.examples(lines) + nm.examples(list(extra))
    model = nm.NameModel(nm.train([(f, y) for _, f, y in rows], c=c), threshold)
    model.save(path, lines=len(lines), counter_examples=len(extra), candidates=len(rows), names=sum(y for _, _, y in rows), c=c)
    nm.model.cache_clear()
    return model


def format_report(results: dict[str, dict], ms: float) -> str:
    splits = list(results)
    lines = [
        "| 类型 | " + " | ".join(f"{s} 条数 | {s} 召回" for s in splits) + " | 目标 |",
        "|---" * (1 + 2 * len(splits)) + "|---|",
    ]
    for t in TYPES:
        cells = []
        for s in splits:
            r = results[s]
            cells += [str(r["spans"].get(t, 0)), f"{r['recall'][t]:.3f}" if t in r["recall"] else "—"]
        target = f"≥ {TARGETS[t]:.2f}" if t in TARGETS else "—"
        lines.append(f"| {t} | " + " | ".join(cells) + f" | {target} |")
    clean = " / ".join(f"{s} {results[s]['clean_changed']:.3f}（{results[s]['clean_lines']} 行）" for s in splits)
    lines += ["", f"不含个人信息的句子被改动的比例：{clean}（目标 ≤ {MAX_CLEAN_CHANGED:.2f}）。", ""]
    lines.append(f"一个 2000 字的问题脱敏用时：{ms:.1f} ms（中位数，目标 < 20 ms）。")
    return "\n".join(lines)
