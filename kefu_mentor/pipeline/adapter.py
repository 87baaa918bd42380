"""A linear map on question vectors, learned at index build from our situation phrasings.

The embedder (multilingual-e5-small) places a learner's everyday words ("买家老砍价咋回") far
from the passage that answers them in the book's or a card's terms. Every situation phrasing
(`corpus/situations`) is a question with a known answering passage, so a 384 x 384 matrix,
started at the identity and kept near it, is fitted so that a phrasing's query vector lands
nearest its passage's own vectors (title and text, pieces). Retrieval searches with the mapped
vector as a second dense view beside the plain one (`HybridRetriever._score`). No golden
question is used to learn it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Full-batch Adam from the identity (deterministic; part of the training digest). Chosen on
# held-out phrasings (one in five): nearest passage by its own vectors 0.27 -> 0.42, MRR 0.38 -> 0.55;
# the temperature sets how sharply the nearest passage must win, `pull` how near the identity
# the map stays, `balance` how much a passage with many phrasings counts less (count ** -balance).
TRAINING = {"steps": 600, "rate": 0.01, "temperature": 0.05, "pull": 0.01, "balance": 0.5}


@dataclass(frozen=True)
class QueryAdapter:
    """`map` turns a question's vector into the one searched as the second dense view."""

    matrix: np.ndarray  # (dim, dim)
    digest: str = ""  # of what it was trained on (`training_digest`): an unchanged rebuild reuses it

    def map(self, vectors: np.ndarray) -> np.ndarray:
        mapped = np.asarray(vectors, dtype=np.float32) @ self.matrix.T
        return (mapped / np.maximum(np.linalg.norm(mapped, axis=-1, keepdims=True), 1e-9)).astype(np.float32)

    @classmethod
    def train(cls, questions: np.ndarray, answers: np.ndarray, rows: np.ndarray, row_passage: np.ndarray) -> QueryAdapter:
        """Fit the map on question vectors and the passage each answers.

        Args:
            questions: (n, dim) query-side vectors of the phrasings.
            answers: (n,) the passage each phrasing points at.
            rows: (m, dim) the passages' own vectors (title and text, pieces).
            row_passage: (m,) which passage each row belongs to.

        A passage scores a question by the log-sum-exp of its rows' cosines over the temperature
        (its nearest row counts most); the loss is the cross-entropy of the answering passage
        among all passages with rows, each question weighted by its passage's phrasing count to
        the power -balance, plus `pull` times the squared distance from the identity.
        """
        t = TRAINING
        passages, cls_of_row = np.unique(row_passage, return_inverse=True)
        keep = np.isin(answers, passages)
        x = np.asarray(questions[keep], dtype=np.float64)
        y = np.searchsorted(passages, answers[keep])
        dim = np.asarray(questions).shape[1]
        if not len(x):
            return cls(np.eye(dim, dtype=np.float32))
        r = np.asarray(rows, dtype=np.float64)
        member = np.zeros((len(r), len(passages)))
        member[np.arange(len(r)), cls_of_row] = 1.0
        counts = np.bincount(y, minlength=len(passages))
        weight = counts[y].astype(np.float64) ** -t["balance"]
        weight /= weight.mean()
        eye = np.eye(dim)
        w, m, v = eye.copy(), np.zeros((dim, dim)), np.zeros((dim, dim))
        for step in range(1, t["steps"] + 1):
            z = x @ w.T
            norm = np.linalg.norm(z, axis=1, keepdims=True)
            zn = z / norm
            s = zn @ r.T / t["temperature"]
            top = s.max(axis=1, keepdims=True)
            e = np.exp(s - top)
            sums = e @ member
            logits = np.log(sums + 1e-30) + top
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(y)), y] -= 1.0
            p *= weight[:, None]
            within = e / np.maximum(sums[:, cls_of_row], 1e-30)  # each row's share of its passage
            g_zn = ((p[:, cls_of_row] * within) @ r) / t["temperature"] / len(y)
            g_z = (g_zn - zn * np.sum(g_zn * zn, axis=1, keepdims=True)) / norm
            g = g_z.T @ x + t["pull"] * (w - eye)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            w -= t["rate"] * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        return cls(w.astype(np.float32))

    def save(self, path: Path) -> None:
        np.savez(path, matrix=self.matrix, digest=np.array(self.digest))

    @classmethod
    def load(cls, path: Path) -> QueryAdapter:
        with np.load(path, allow_pickle=False) as data:
            return cls(np.asarray(data["matrix"], dtype=np.float32), str(data["digest"]))


def training_digest(embedder_id: str, texts: list[str], answers: list[str]) -> str:
    """What the map is learned from: the same phrasings, passages and settings give the same map."""
    payload = json.dumps([embedder_id, TRAINING, texts, answers], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
