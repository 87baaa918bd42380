"""The drill grader measured on replies of known quality (`eval/drills/graded_{dev,test}.yaml`).

Each scenario has the recommended reply (the template's own) and replies written blind by
helpers, with the band a fair instructor would give: two honest paraphrases, a mediocre reply, a
reply to a different scenario, keyword salad, a rude reply and a polite one that breaks a rule.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np
import yaml

from ..modes.drills import (
    CONDUCT_FILE,
    RELEVANCE_FILE,
    TONE_FILE,
    DrillCoach,
    ReplyFamilies,
    Scenario,
    ToneModel,
    load_scenarios,
)

DRILL_DIR = Path("eval/drills")
KINDS = ["recommended", "paraphrase", "mediocre", "wrong_scenario", "keyword_salad", "rude", "rule_breaking"]
# The bands from the issue: (low, high) and the share of the kind that must fall in it.
BANDS = {
    "recommended": (85, 100, 1.0),
    "paraphrase": (70, 100, 0.9),
    "mediocre": (40, 70, 0.9),
    "wrong_scenario": (0, 40, 0.9),
    "keyword_salad": (0, 30, 0.9),
    "rude": (0, 20, 0.9),
    "rule_breaking": (0, 20, 0.9),
}
# Better kinds first; a pair of replies to one scenario is in the right order when the better
# kind scores strictly higher. Kinds on one tier are not compared with each other.
TIERS = {
    "recommended": 0,
    "paraphrase": 1,
    "mediocre": 2,
    "wrong_scenario": 3,
    "keyword_salad": 3,
    "rude": 4,
    "rule_breaking": 4,
}
ORDER_TARGET = 0.95


def load(split: str, folder: Path = DRILL_DIR) -> list[dict]:
    return yaml.safe_load((folder / f"graded_{split}.yaml").read_text(encoding="utf-8"))


def grade_all(coach: DrillCoach, items: list[dict]) -> list[dict]:
    """One row per reply: scenario, kind, score, the grade itself."""
    by_id = {s.template_id: s for s in coach.scenarios}
    rows = []
    for item in items:
        template = by_id[item["scenario"]]
        scenario = Scenario(**{**template.__dict__, "buyer_line": item.get("buyer_says") or template.buyer_line})
        replies = [{"kind": "recommended", "text": scenario.reply}, *item["replies"]]
        for reply in replies:
            grade = coach.grade(scenario, reply["text"])
            rows.append({"scenario": scenario.template_id, "kind": reply["kind"], "score": grade.score, "grade": grade})
    return rows


def summarise(rows: list[dict]) -> dict:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row["score"])
    kinds = {}
    for kind in KINDS:
        scores = by_kind.get(kind, [])
        if not scores:
            continue
        low, high, _ = BANDS[kind]
        kinds[kind] = {
            "n": len(scores),
            "in_band": round(sum(low <= s <= high for s in scores) / len(scores), 3),
            "mean": round(sum(scores) / len(scores), 1),
            "min": round(min(scores), 1),
            "max": round(max(scores), 1),
        }
    right = total = 0
    by_scenario: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_scenario[row["scenario"]].append(row)
    for replies in by_scenario.values():
        for a, b in combinations(replies, 2):
            if TIERS[a["kind"]] == TIERS[b["kind"]]:
                continue
            better, worse = (a, b) if TIERS[a["kind"]] < TIERS[b["kind"]] else (b, a)
            total += 1
            right += better["score"] > worse["score"]
    return {"kinds": kinds, "pairwise": round(right / total, 3) if total else 0.0, "pairs": total}


def format_report(results: dict[str, dict]) -> str:
    splits = list(results)
    lines = [
        "| 回复类型 | 目标 | " + " | ".join(f"{s}：在目标内 / 平均 / 最低–最高" for s in splits) + " |",
        "|---|---|" + "---|" * len(splits),
    ]
    names = {
        "recommended": "推荐回复",
        "paraphrase": "学员自己的好回复",
        "mediocre": "一般（简短或缺下一步）",
        "wrong_scenario": "答非所问（别的场景）",
        "keyword_salad": "关键词堆砌",
        "rude": "粗鲁",
        "rule_breaking": "违规（站外、承诺、泄露…）",
    }
    for kind in KINDS:
        low, high, share = BANDS[kind]
        target = f"{low}–{high}（≥ {share:.0%}）"
        cells = []
        for s in splits:
            k = results[s]["kinds"].get(kind)
            cells.append(f"{k['in_band']:.2f} / {k['mean']:.0f} / {k['min']:.0f}–{k['max']:.0f}" if k else "—")
        lines.append(f"| {names[kind]} | {target} | " + " | ".join(cells) + " |")
    pairs = " / ".join(f"{s} {results[s]['pairwise']:.3f}（{results[s]['pairs']} 对）" for s in splits)
    lines += ["", f"同一场景里好回复得分高于差回复的比例：{pairs}（目标 ≥ {ORDER_TARGET}）。"]
    return "\n".join(lines)


def report_section(table: str) -> str:
    return (
        "## 情景演练评分（kefu-mentor eval-drills）\n\n"
        "由 `kefu-mentor eval-drills --report docs/evaluation.md` 写入。分级回复由没看过评分规则和评分代码的助手盲写："
        "每个场景有推荐回复（模板自带）、学员自己的好回复、一般的、答非所问的、关键词堆砌、粗鲁的、违反平台规则的"
        "（各批条数见 eval/README.md），各带一位公正老师会给的分数段。权重与阈值、红线的说法、语气模型、违规模型和回复场景模型只用 dev 调定；"
        "test 是最后写的一批；先前的 test 批次看过之后都已并入 dev（origin 写着是哪一批）。"
        "dev 的违规、好回复和一般的回复是训练违规模型和回复场景模型用过的数据，dev 的数字偏乐观，不代表新回复。\n\n"
        + table
        + "\n"
    )


def train_conduct(embedder, corpus_dir: Path, items: list[dict], threshold: float = 0.9) -> tuple[ToneModel, dict]:
    """Fit the conduct model on graded replies (the dev split only): rule-breaking against every
    kind but rude (a rude reply is the tone model's). The threshold was chosen by leaving each dev
    batch out in turn: at 0.9 it found 11 of the 228 rule-breaking replies the rubric's phrases
    missed (0.877 → 0.921) and flagged 12 of 800 good, mediocre or off-topic replies. Checked again
    with the three latest batches left out in turn: at 0.9 it found 41 of the 57 the phrases missed
    and flagged 15 of 640 others; at 0.95, 36 and 10."""
    texts, breaks = [], []
    for item in items:
        for reply in item["replies"]:
            if reply["kind"] != "rude":
                texts.append(reply["text"])
                breaks.append(reply["kind"] == "rule_breaking")
    # Our own recommended replies (both turns) are what keeping to the rules looks like.
    for scenario in {s.template_id: s for s in load_scenarios(corpus_dir)}.values():
        for turn in (scenario, scenario.second_turn()):
            if turn is not None:
                texts.append(turn.reply)
                breaks.append(False)
    vectors = embedder.embed_passages(texts)
    model = ToneModel.fit(vectors, texts, np.array(breaks), embedder.id, threshold=threshold)
    path = Path(corpus_dir) / "drills" / CONDUCT_FILE
    model.save(path)
    return model, {"replies": len(texts), "rule_breaking": int(sum(breaks)), "path": str(path)}


def train_families(embedder, corpus_dir: Path, items: list[dict]) -> tuple[ReplyFamilies, dict]:
    """Fit the reply-family model (which family a reply answers) on our recommended replies (both
    turns) and the dev split's honest and mediocre replies, each labelled with its scenario's family.
    Replies to another buyer are left out (their own family is not labelled); rude and rule-breaking
    ones too, so that how a reply is said does not decide what it answers."""
    templates = {s.template_id: s for s in load_scenarios(corpus_dir)}
    texts, labels, keys = [], [], []
    for scenario in templates.values():
        for turn in (scenario, scenario.second_turn()):
            if turn is not None:
                texts.append(turn.reply)
                labels.append(scenario.family)
                keys.append(f"{turn.template_id}#{turn.turn}")
    for item in items:
        for reply in item["replies"]:
            if reply["kind"] in ("paraphrase", "mediocre") and item["scenario"] in templates:
                texts.append(reply["text"])
                labels.append(templates[item["scenario"]].family)
    model = ReplyFamilies.fit(embedder.embed_passages(texts), texts, labels, embedder.id, keys)
    path = Path(corpus_dir) / "drills" / RELEVANCE_FILE
    model.save(path)
    return model, {"replies": len(texts), "families": len(set(labels)), "path": str(path)}


def train_tone(embedder, corpus_dir: Path, items: list[dict]) -> tuple[ToneModel, dict]:
    """Fit the tone model on graded replies (the dev split only): rude against every other kind."""
    texts, rude = [], []
    for item in items:
        for reply in item["replies"]:
            texts.append(reply["text"])
            rude.append(reply["kind"] == "rude")
    vectors = embedder.embed_passages(texts)
    model = ToneModel.fit(vectors, texts, np.array(rude), embedder.id)
    path = Path(corpus_dir) / "drills" / TONE_FILE
    model.save(path)
    return model, {"replies": len(texts), "rude": int(sum(rude)), "path": str(path)}
