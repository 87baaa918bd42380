"""The corpus loader: real files load, and every kind of mistake names file, line and fix."""

from __future__ import annotations

import re
import shutil

import pytest

from kefu_mentor.errors import CorpusError
from kefu_mentor.pipeline.corpus import load_corpus

from .conftest import MINI_CORPUS, REAL_CORPUS, SEED


@pytest.fixture()
def corpus_copy(tmp_path):
    return shutil.copytree(MINI_CORPUS, tmp_path / "corpus")


def test_real_corpus_loads_with_breadcrumbs_and_pages():
    corpus = load_corpus(REAL_CORPUS)
    textbook = [s for s in corpus.sections if s.source == "textbook"]
    assert textbook, "module 1 text must be present"
    assert all(s.page is not None for s in textbook if s.toc_id != "front")  # 前言 has no Arabic page numbers
    leak = [s for s in textbook if s.breadcrumb[-1].endswith("不能泄露他人信息")]
    assert len(leak) == 1
    assert leak[0].breadcrumb[:4] == ("模块一 网店客服岗前准备", "任务二 储备网店客服知识", "知识储备", "二、平台规则")
    assert leak[0].page == 13
    assert "扣6分" in leak[0].text and "48分" in leak[0].text


def test_toc_has_all_seven_modules_with_pages():
    toc = load_corpus(REAL_CORPUS).toc
    modules = [n for n in toc if n.depth == 0 and n.id.startswith("m")]
    assert [m.id for m in modules] == [f"m{i}" for i in range(1, 8)]
    assert toc["m4t3-k2"].page == 155 and "FAB" in toc["m4t3-k2"].title
    assert toc["m7"].page == 235


@pytest.mark.skipif(not SEED.exists(), reason="the seed text lives in ../shared; CI has it beside the clone")
def test_textbook_sentences_are_verbatim():
    """Every sentence we index as 教材原文 occurs in the book's text (ignoring whitespace)."""
    squash = re.compile(r"\s+")
    # Margin labels sit between the halves of sentences split by a page break; the corpus
    # joins those halves, so compare against the book without them.
    # The second video's title is printed over two lines; listing it as one line once let its
    # title slip into a sentence unseen, so every entry must be a line of the book.
    debris = {"《 学习笔记 》", "在线测试", "拓展视频", "平台规则及应对策略", "网店客服的职业", "发展路径"}
    seed_lines = SEED.read_text(encoding="utf-8").split("\n")
    assert debris <= {line.strip() for line in seed_lines}, debris - {line.strip() for line in seed_lines}
    lines = [line for line in seed_lines if line.strip() not in debris]
    book = squash.sub("", "".join(lines))
    corpus = load_corpus(REAL_CORPUS)
    missing = []
    for section in corpus.sections:
        if section.source != "textbook":
            continue
        for line in section.text.split("\n"):
            line = line.strip()
            if not line or line.startswith("|") or line.startswith("*"):
                continue  # tables and captions are re-laid-out, not re-worded
            if squash.sub("", line) not in book:
                missing.append(f"{section.file}:{section.line}: {line[:40]}")
    assert not missing, "not verbatim:\n" + "\n".join(missing[:20])


def _expect_error(corpus_dir, file_part: str, line: int | None = None, text: str = "") -> CorpusError:
    with pytest.raises(CorpusError) as info:
        load_corpus(corpus_dir)
    error = info.value
    assert file_part in error.file
    if line is not None:
        assert error.line == line
    assert text in str(error)
    assert "修改方法" in str(error)
    return error


def test_missing_front_matter(corpus_copy):
    path = corpus_copy / "textbook" / "m1-t2.md"
    path.write_text(path.read_text(encoding="utf-8").split("---", 2)[2], encoding="utf-8")
    _expect_error(corpus_copy, "m1-t2.md", 1, "front matter")


def test_broken_front_matter_yaml(corpus_copy):
    path = corpus_copy / "textbook" / "m1-t2.md"
    path.write_text(path.read_text(encoding="utf-8").replace("pages: [10, 21]", "pages: [10, 21"), encoding="utf-8")
    _expect_error(corpus_copy, "m1-t2.md", text="YAML")


def test_unknown_source_type(corpus_copy):
    path = corpus_copy / "textbook" / "m1-t2.md"
    path.write_text(path.read_text(encoding="utf-8").replace("source: textbook", "source: novel"), encoding="utf-8")
    _expect_error(corpus_copy, "m1-t2.md", 2, "novel")


def test_unknown_toc_id(corpus_copy):
    path = corpus_copy / "supplement" / "m3-t2.md"
    path.write_text(path.read_text(encoding="utf-8").replace("toc: m3t2", "toc: m9t9"), encoding="utf-8")
    _expect_error(corpus_copy, "m3-t2.md", 3, "m9t9")  # the line of toc:


def test_heading_level_skip(corpus_copy):
    path = corpus_copy / "textbook" / "m1-t2.md"
    text = path.read_text(encoding="utf-8").replace("### 二、平台规则", "#### 二、平台规则")
    path.write_text(text, encoding="utf-8")
    line = text.split("\n").index("#### 二、平台规则") + 1
    _expect_error(corpus_copy, "m1-t2.md", line, "跳级")


def test_empty_section(corpus_copy):
    path = corpus_copy / "textbook" / "m1-t2.md"
    text = path.read_text(encoding="utf-8").replace(
        "#### 4. 不能违背承诺\n\n针对该规则，客服通过旺旺与客户交流时不要轻许承诺，一旦向客户做出承诺，就必须严格履行。\n",
        "#### 4. 不能违背承诺\n",
    )
    path.write_text(text, encoding="utf-8")
    line = text.split("\n").index("#### 4. 不能违背承诺") + 1
    _expect_error(corpus_copy, "m1-t2.md", line, "没有正文")


def test_non_utf8_file(corpus_copy):
    path = corpus_copy / "textbook" / "m1-t2.md"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    _expect_error(corpus_copy, "m1-t2.md", text="UTF-8")


def test_duplicate_template_id(corpus_copy):
    source = corpus_copy / "templates" / "cuifu.yaml"
    shutil.copy(source, corpus_copy / "templates" / "cuifu2.yaml")
    _expect_error(corpus_copy, "cuifu2.yaml", text="重复")


def test_template_needs_three_phrasings(corpus_copy):
    path = corpus_copy / "templates" / "cuifu.yaml"
    text = path.read_text(encoding="utf-8").replace("      - 等我发工资再付款哈\n", "")
    path.write_text(text, encoding="utf-8")
    _expect_error(corpus_copy, "cuifu.yaml", text="3 种说法")


def test_supplement_heading_must_be_a_toc_subsection(corpus_copy):
    path = corpus_copy / "supplement" / "m3-t2.md"
    path.write_text(path.read_text(encoding="utf-8").replace("## 一、订单催付", "## 一、随便写的标题"), encoding="utf-8")
    _expect_error(corpus_copy, "m3-t2.md", text="不是")


def test_comments_are_not_indexed(corpus_copy):
    path = corpus_copy / "textbook" / "m1-t2.md"
    text = path.read_text(encoding="utf-8").replace("## 知识储备", "<!-- 编者备注：不应被检索 -->\n## 知识储备")
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(corpus_copy)
    assert not any("编者备注" in s.text for s in corpus.sections)


def test_a_symlink_loop_is_reported_not_skipped(corpus_copy):
    loop = corpus_copy / "supplement" / "loop.md"
    loop.symlink_to(loop)
    _expect_error(corpus_copy, "loop.md", text="循环的符号链接")


def test_a_broken_symlink_is_reported(corpus_copy):
    (corpus_copy / "supplement" / "gone.md").symlink_to(corpus_copy / "nowhere.md")
    _expect_error(corpus_copy, "gone.md", text="指向的文件不存在")


def test_a_folder_named_like_a_corpus_file_is_reported(corpus_copy):
    (corpus_copy / "textbook" / "notes.md").mkdir()
    _expect_error(corpus_copy, "notes.md", text="不是普通文件")


def test_an_oversized_corpus_file_is_refused_with_the_limit(corpus_copy, monkeypatch):
    from kefu_mentor.pipeline import corpus as corpus_module

    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 1024)  # the real limit is 5 MB
    _expect_error(corpus_copy, "m1-t2.md", text="上限")


def test_an_unreadable_file_names_the_path_and_the_fix(corpus_copy, monkeypatch):
    from pathlib import Path

    real = Path.read_bytes

    def denied(self):
        if self.name == "m3-t2.md":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)  # tests run as root, where chmod 000 still reads
    _expect_error(corpus_copy, "m3-t2.md", text="没有权限读取")


def test_an_unknown_toc_id_is_reported_on_its_own_line(corpus_copy):
    path = corpus_copy / "textbook" / "m1-t2.md"
    text = path.read_text(encoding="utf-8")
    assert text.split("\n")[2] == "toc: m1t2"  # line 3 of the file
    path.write_text(text.replace("toc: m1t2\n", "toc: m9t9\n", 1), encoding="utf-8")
    _expect_error(corpus_copy, "m1-t2.md", line=3, text="m9t9")


def test_a_template_follow_up_must_be_complete(tmp_path):
    import yaml

    from kefu_mentor.errors import CorpusError
    from kefu_mentor.pipeline.corpus import read_templates
    from kefu_mentor.pipeline.toc import TableOfContents

    toc = TableOfContents.load(REAL_CORPUS / "toc.yaml")
    data = yaml.safe_load((REAL_CORPUS / "templates" / "cuifu.yaml").read_text(encoding="utf-8"))
    data["templates"] = data["templates"][:1]
    assert read_templates(yaml.safe_dump(data, allow_unicode=True), "t.yaml", toc)[0].follow_up is not None
    data["templates"][0]["follow_up"] = {"buyer": "那好吧"}
    with pytest.raises(CorpusError, match="follow_up"):
        read_templates(yaml.safe_dump(data, allow_unicode=True), "t.yaml", toc)
