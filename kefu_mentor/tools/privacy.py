"""Redaction measured on the blind privacy set (`eval/privacy/{dev,test}.yaml`).

Each line lists the spans that must disappear. A span counts as removed when at least 90% of its
non-space characters fall inside what `redact.find` replaces (a name with one character left, or
an address with its door number left, is a leak). A clean line counts as changed when anything
in it is replaced.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import yaml

from ..modes.redact import find

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


def evaluate(lines: list[dict]) -> dict:
    found_by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[tuple[str, str, str]] = []
    clean = changed = 0
    changed_lines: list[str] = []
    for line in lines:
        text = line["text"]
        spans = find(text)
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
