"""Shared fixtures: indexes are built once per session, on real text, with no network."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kefu_mentor import Mentor, Settings, build_index
from kefu_mentor.errors import IndexUnavailable
from kefu_mentor.pipeline.index import load_index

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
    # The index ships with the code: start from it when it matches the corpus (CI checks that
    # with `kefu-mentor build --check`), and build only when it does not.
    shipped = settings.with_(index_dir=ROOT / "index")
    try:
        load_index(shipped)
        shutil.copytree(shipped.index_dir, settings.index_dir)
    except IndexUnavailable:
        build_index(settings)
    return settings


@pytest.fixture(scope="session")
def real_mentor(real_settings) -> Mentor:
    return Mentor.load(real_settings.index_dir, real_settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(real_settings):
    yield from serve_app(real_settings)


def serve_app(real_settings):
    """Start app.py on a free loopback port for `real_settings`; yield its URL; stop it."""
    port = _free_port()
    env = {**os.environ, "KEFU_MENTOR_INSTRUCTOR_PASSWORD": "teacher-test"}
    log = open(real_settings.index_dir.parent / "app.log", "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "app.py"),
            "--port",
            str(port),
            "--index",
            str(real_settings.index_dir),
            "--corpus",
            str(real_settings.corpus_dir),
            "--data",
            str(real_settings.index_dir.parent / "data"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("app exited: " + Path(log.name).read_text(errors="replace")) from None
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("app did not start within 180 s")
    yield url
    process.terminate()
    process.wait(20)
    log.close()
