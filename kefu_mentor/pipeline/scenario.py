"""Which scenario a buyer's message belongs to: a small learned classifier, not keyword rules.

A softmax regression over the message's query embedding and hashed character 1-2-grams,
trained at index build on our templates' buyer phrasings and the buyer lines we wrote per
family (`corpus/scenarios/*.yaml`), with class weights so small families count as much as
big ones. Classes are the template families plus `none` (thanks, OK, fragments) and `other`
(a real request no family covers). The model is a small `.npz` in the index directory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ..errors import CorpusError
from ..schema import Chunk
from .text import word_chars

NONE = "none"
OTHER = "other"
# Not a buyer at all: a learner describing a situation ("买家老催我 我好烦"). Learned from the
# situation phrasings (`corpus/situations`), it vetoes the voice cues' "buyer" verdict.
LEARNER = "learner"
FAMILY_LABELS = {NONE: "无具体诉求（致谢、应答、闲聊）", OTHER: "话术库之外的诉求"}
# The template family that answers `none` (a thanks, an OK): its buyer phrasings train `none`.
CLOSING_FAMILY = "结束语"
NGRAM_BUCKETS = 2048
NGRAM_WEIGHT = 0.5  # how much the character n-grams count next to the embedding
# Gradient descent for `ScenarioModel.train` (part of the training digest: change one, retrain).
TRAINING = {"l2": 1e-4, "steps": 300, "rate": 20.0}


def template_family(family: str) -> str:
    """The template family a recognised class routes to (`none` → the closing templates)."""
    return CLOSING_FAMILY if family == NONE else family


@dataclass(frozen=True)
class Scenario:
    """The recognised scenario of a buyer message."""

    family: str
    confidence: float

    @property
    def label(self) -> str:
        """The family as a user reads it."""
        return FAMILY_LABELS.get(self.family, self.family)


def char_ngrams(texts: list[str], buckets: int = NGRAM_BUCKETS) -> np.ndarray:
    """L2-normalised hashed counts of character unigrams and bigrams (typos keep most of them)."""
    out = np.zeros((len(texts), buckets), dtype=np.float32)
    for row, text in enumerate(texts):
        chars = list(word_chars(text))
        grams = chars + [a + b for a, b in zip(chars, chars[1:], strict=False)]
        for gram in grams:
            out[row, int(hashlib.md5(gram.encode()).hexdigest()[:8], 16) % buckets] += 1.0
        norm = np.linalg.norm(out[row])
        if norm:
            out[row] /= norm
    return out


def features(vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    return np.hstack([vectors.astype(np.float32), NGRAM_WEIGHT * char_ngrams(texts)])


class ScenarioModel:
    """Softmax regression: `predict` returns families with probabilities, best first."""

    def __init__(self, classes: list[str], weights: np.ndarray, bias: np.ndarray, digest: str = ""):
        self.classes = classes
        self.weights = weights
        self.bias = bias
        # What it was trained on (`training_digest`): a rebuild with the same training set reuses it.
        self.digest = digest

    @classmethod
    def train(
        cls,
        vectors: np.ndarray,
        texts: list[str],
        labels: list[str],
        *,
        l2: float = TRAINING["l2"],
        steps: int = TRAINING["steps"],
        rate: float = TRAINING["rate"],
    ) -> ScenarioModel:
        """Full-batch gradient descent on the class-weighted cross-entropy (deterministic).

        Steps, rate and L2 were chosen on the real buyer lines of the dev split: 300 / 20 / 1e-4
        gave 0.57 accuracy, and 0.92 on the lines it was at least 0.5 sure of.
        """
        classes = sorted(set(labels))
        x = features(vectors, texts)
        y = np.array([classes.index(label) for label in labels])
        counts = np.bincount(y, minlength=len(classes)).astype(np.float32)
        sample_weight = (len(y) / (len(classes) * counts))[y]
        weights = np.zeros((x.shape[1], len(classes)), dtype=np.float32)
        bias = np.zeros(len(classes), dtype=np.float32)
        onehot = np.eye(len(classes), dtype=np.float32)[y]
        for _ in range(steps):
            probs = _softmax(x @ weights + bias)
            error = (probs - onehot) * sample_weight[:, None] / sample_weight.sum()
            weights -= rate * (x.T @ error + l2 * weights)
            bias -= rate * error.sum(axis=0)
        return cls(classes, weights, bias)

    def predict(self, vector: np.ndarray, text: str) -> list[Scenario]:
        """Every class with its probability, best first."""
        probs = _softmax(features(vector[None, :], [text]) @ self.weights + self.bias)[0]
        order = np.argsort(-probs)
        return [Scenario(self.classes[i], float(probs[i])) for i in order]

    def read(self, vector: np.ndarray, text: str) -> tuple[float, tuple[Scenario, ...]]:
        """(how likely a learner wrote it, the buyer classes with their shares among buyer classes, best first)."""
        ranked = self.predict(vector, text)
        learner = next((s.confidence for s in ranked if s.family == LEARNER), 0.0)
        share = max(1.0 - learner, 1e-9)
        return learner, tuple(Scenario(s.family, s.confidence / share) for s in ranked if s.family != LEARNER)

    def save(self, path: Path, **extra: str | list[str]) -> None:
        """Write the model as `.npz` (no pickle); `extra` strings (or lists of them) are stored beside it."""
        np.savez(
            path,
            classes=np.array(self.classes),
            weights=self.weights,
            bias=self.bias,
            buckets=np.array(NGRAM_BUCKETS),
            ngram_weight=np.array(NGRAM_WEIGHT),
            digest=np.array(self.digest),
            **{key: np.array(value) for key, value in extra.items()},
        )

    @classmethod
    def load(cls, path: Path) -> ScenarioModel:
        with np.load(path, allow_pickle=False) as data:
            digest = str(data["digest"]) if "digest" in data.files else ""
            return cls([str(c) for c in data["classes"]], data["weights"], data["bias"], digest)


def training_digest(embedder_id: str, texts: list[str], labels: list[str]) -> str:
    """A fingerprint of what a model would be trained on (and how), to reuse it when nothing changed."""
    recipe = [embedder_id, NGRAM_BUCKETS, NGRAM_WEIGHT, TRAINING, texts, labels]
    return hashlib.sha256(json.dumps(recipe, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def training_set(corpus_dir: Path, chunks: list[Chunk]) -> tuple[list[str], list[str]]:
    """(texts, labels): every template's buyer phrasings, our per-family buyer lines, and the
    learners' situation phrasings (class `learner`).

    Raises:
        CorpusError: a scenario file names a family no template has.
    """
    texts, labels = [], []
    for chunk in chunks:
        if chunk.source == "template" and chunk.family:
            texts += list(chunk.buyer_says)
            labels += [NONE if chunk.family == CLOSING_FAMILY else chunk.family] * len(chunk.buyer_says)
    known = set(labels) | {NONE, OTHER}
    if not labels:  # no templates: nothing to recognise
        return [], []
    for chunk in chunks:
        texts += list(chunk.asks)
        labels += [LEARNER] * len(chunk.asks)
    for path in sorted((Path(corpus_dir) / "scenarios").glob("*.yaml")):
        rel = f"corpus/scenarios/{path.name}"
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise CorpusError(rel, 1, "场景训练文件应是“场景族: [买家原话…]”的形式", "见 docs/corpus-format.md")
        for family, lines in data.items():
            if family not in known:
                raise CorpusError(rel, None, f"未知的场景族“{family}”", f"只能是话术库已有的场景族，或 {NONE}/{OTHER}")
            if not isinstance(lines, list) or not all(isinstance(t, str) and t.strip() for t in lines):
                raise CorpusError(rel, None, f"场景族“{family}”下应是文字列表", "每行写一句买家原话")
            texts += [t.strip() for t in lines]
            labels += [family] * len(lines)
    return texts, labels
