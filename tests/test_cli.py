"""The CLI contract: `kefu-mentor ask --json -` reads JSON Lines and answers each line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Every test here starts the CLI in a new process (model load included): part of `make test`,
# left out of the one-minute `make test-fast`.
pytestmark = pytest.mark.slow

CONTRACT_KEYS = {"question", "abstained", "answer", "citations", "latency_ms"}
CITATION_KEYS = {"rank", "chunk_id", "source", "breadcrumb", "page", "text", "score"}


def run_cli(settings, *args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "kefu_mentor.tools.cli",
        *args,
        "--corpus",
        str(settings.corpus_dir),
        "--index",
        str(settings.index_dir),
        "--cache",
        str(settings.cache_dir),
    ]
    return subprocess.run(command, input=stdin, capture_output=True, timeout=300)


def test_json_lines_contract(real_settings):
    requests = [
        {"question": "泄露他人信息会被扣几分？"},
        {"question": "那情节严重呢？", "history": ["泄露他人信息会被扣几分？"]},
        {"question": "   "},
        "not json at all",
        {"question": "红烧肉怎么做才好吃？"},
    ]
    stdin = "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in requests).encode()
    stdin += b"\n\xff\xfe broken bytes\n"
    result = run_cli(real_settings, "ask", "--json", "-", stdin=stdin)
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(lines) == 6  # one per input line, in order
    first, follow, blank, garbage, oos, binary = lines
    for answered in (first, follow):
        assert CONTRACT_KEYS <= set(answered) and not answered["abstained"]
        assert len(answered["citations"]) >= 5
        for rank, citation in enumerate(answered["citations"], 1):
            assert CITATION_KEYS <= set(citation) and citation["rank"] == rank
            assert citation["source"] in ("textbook", "template", "supplement")
    assert "48分" in follow["citations"][0]["text"]
    assert "空" in blank["error"] and blank["question"] == "   "
    assert "JSON" in garbage["error"]
    assert oos["abstained"] is True and oos["citations"] == []
    assert "UTF-8" in binary["error"]


def test_every_input_line_gets_one_strict_json_line(real_settings):
    stdin = (
        b"\n".join(
            [
                b"",  # blank: an error line, not a gap
                b'{"question": "\\ud800"}',  # a lone surrogate is no text
                b"[" * 100_000 + b"]" * 100_000,  # nesting too deep for any parser
                '{"question": "能便宜点吗 便宜就拍"}'.encode(),
            ]
        )
        + b"\n"
    )
    result = run_cli(real_settings, "ask", "--json", "-", "--sources", "template", stdin=stdin)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    raw = result.stdout.decode().splitlines()
    assert len(raw) == 4 and b"Traceback" not in result.stderr
    blank, surrogate, deep, answered = [json.loads(line, parse_constant=pytest.fail) for line in raw]
    assert "空" in blank["error"] and "字符" in surrogate["error"] and "嵌套" in deep["error"]
    # --sources applies to every line of the batch.
    assert answered["citations"] and {c["source"] for c in answered["citations"]} == {"template"}


def test_readable_ask_shows_sources_and_pages(real_settings):
    result = run_cli(real_settings, "ask", "泄露他人信息会被扣几分？")
    out = result.stdout.decode()
    assert result.returncode == 0
    assert "[1]" in out and "教材原文" in out and "第 13 页" in out and "不能泄露他人信息" in out


def test_empty_question_exits_with_message(real_settings):
    result = run_cli(real_settings, "ask", "  ")
    assert result.returncode == 2
    assert "问题是空的" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_broken_corpus_gives_file_line_and_fix(mini_copy):
    path = mini_copy.corpus_dir / "textbook" / "m1-t2.md"
    path.write_text(path.read_text(encoding="utf-8").replace("source: textbook", "source: blog"), encoding="utf-8")
    result = run_cli(mini_copy, "build", "--quiet")
    err = result.stderr.decode()
    assert result.returncode == 1
    assert "m1-t2.md 第 2 行" in err and "修改方法" in err and "Traceback" not in err


@pytest.mark.parametrize("bad", ["--sources=novels"])
def test_bad_option_value_is_explained(real_settings, bad):
    result = run_cli(real_settings, "ask", "客服分为哪几类", bad)
    assert result.returncode == 2 and "未知的资料类型" in result.stderr.decode()


def test_build_check_fails_when_the_committed_index_no_longer_matches_the_corpus(mini_copy):
    fresh = run_cli(mini_copy, "build", "--check")
    assert fresh.returncode == 0 and "一致" in fresh.stdout.decode()
    page = next((mini_copy.corpus_dir / "textbook").glob("*.md"))
    page.write_text(page.read_text(encoding="utf-8") + "\n补充一句新的正文。\n", encoding="utf-8")
    stale = run_cli(mini_copy, "build", "--check")
    assert stale.returncode == 1
    assert "过期" in stale.stderr.decode() and "kefu-mentor build" in stale.stderr.decode()
    assert not list(mini_copy.index_dir.parent.glob(".index.*"))  # a check builds nothing


def test_the_shipped_index_matches_the_shipped_corpus():
    from kefu_mentor import Settings
    from kefu_mentor.pipeline.index import load_index

    from .conftest import REAL_CORPUS, ROOT

    # index/ is committed so the first `make run` serves at once; it must be current.
    load_index(Settings(corpus_dir=REAL_CORPUS, index_dir=ROOT / "index"))


def test_a_broken_corpus_file_does_not_stop_the_batch(mini_copy):
    page = mini_copy.corpus_dir / "textbook" / "m1-t2.md"
    page.write_text(page.read_text(encoding="utf-8").replace("source: textbook", "source: blog"), encoding="utf-8")
    stdin = "\n".join(json.dumps({"question": q}, ensure_ascii=False) for q in ("泄露他人信息会被扣几分？", "   ")).encode()
    result = run_cli(mini_copy, "ask", "--json", "-", stdin=stdin + b"\n")
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(lines) == 2 and not lines[0]["abstained"] and "error" in lines[1]
    assert "m1-t2.md 第 2 行" in lines[0]["notices"][0] and "上一次建好的索引" in lines[0]["notices"][0]
    assert "m1-t2.md 第 2 行" in result.stderr.decode() and "Traceback" not in result.stderr.decode()


def test_training_the_ranker_on_a_set_with_nothing_to_learn_says_so_and_writes_nothing(real_settings):
    from pathlib import Path

    table = Path("calibration.json")
    before = table.read_bytes()
    oos_only = Path(__file__).resolve().parents[1] / "eval" / "blind" / "oos.yaml"
    result = run_cli(
        real_settings, "eval", "--golden", str(oos_only), "--split", "dev", "--train-ranker", "--no-baseline", "--no-ablations"
    )
    err = result.stderr.decode()
    assert result.returncode == 2
    assert "没有可用于训练排序模型的题目" in err and "请用默认的黄金集" in err and "Traceback" not in err
    assert table.read_bytes() == before
