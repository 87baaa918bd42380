"""Shared fixtures: indexes are built once per session, on real text, with no network."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kefu_mentor import Mentor, Settings, build_index

ROOT = Path(__file__).resolve().parents[1]
MINI_CORPUS = ROOT / "tests" / "data" / "mini_corpus"
REAL_CORPUS = ROOT / "corpus"
# Embeddings are cached by content hash across sessions, so reruns skip the embedder.
CACHE = ROOT / ".cache" / "kefu-mentor"
SEED = ROOT.parent / "shared" / "seeds" / "000_1bfbe83f34b1130e.txt"

# Belt and braces: nothing in the tests may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def copy_corpus(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="session")
def mini_settings(tmp_path_factory) -> Settings:
    base = tmp_path_factory.mktemp("mini")
    corpus = copy_corpus(MINI_CORPUS, base / "corpus")
    settings = Settings(corpus_dir=corpus, index_dir=base / "index", cache_dir=CACHE)
    build_index(settings)
    return settings


@pytest.fixture()
def mini_copy(tmp_path, mini_settings) -> Settings:
    """A private copy of the mini corpus and its built index, free to damage."""
    corpus = copy_corpus(mini_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(mini_settings.index_dir, tmp_path / "index")
    return mini_settings.with_(corpus_dir=corpus, index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory) -> Settings:
    base = tmp_path_factory.mktemp("real")
    settings = Settings(corpus_dir=REAL_CORPUS, index_dir=base / "index", cache_dir=CACHE)
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def real_mentor(real_settings) -> Mentor:
    return Mentor.load(real_settings.index_dir, real_settings)
