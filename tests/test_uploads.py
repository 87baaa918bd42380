"""Instructors' uploads: read, preview, add, replace, remove; every bad upload explained, nothing lost.

Runs on a copy of the mini corpus with the stand-in embedder, so each rebuild takes a moment.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kefu_mentor import Mentor, Settings, build_index, load_index
from kefu_mentor.modes import uploads
from kefu_mentor.modes.uploads import UploadError, add, list_uploads, preview, remove
from kefu_mentor.pipeline.answer import AbstentionRule
from kefu_mentor.tools.bench import sample_pdf
from kefu_mentor.tools.cli import main

from .conftest import MINI_CORPUS


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a real text layer, or none when `lines` is empty (the bench's writer)."""
    return sample_pdf([" ".join(lines)])


def _school(base: Path) -> Settings:
    corpus = shutil.copytree(MINI_CORPUS, base / "corpus")
    settings = Settings(corpus_dir=corpus, index_dir=base / "index", cache_dir=base / "cache", embedder="hash:256")
    build_index(settings)
    return settings


@pytest.fixture()
def school(tmp_path) -> Settings:
    """A school's own copy, free to change."""
    return _school(tmp_path)


@pytest.fixture(scope="module")
def school_ro(tmp_path_factory) -> Settings:
    """One copy for the tests that must change nothing."""
    return _school(tmp_path_factory.mktemp("school"))


@pytest.fixture()
def policy(tmp_path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("店铺售后政策", level=1)
    document.add_paragraph("本店支持七天无理由退换货，质量问题来回运费由本店承担。")
    document.add_heading("退款时效", level=2)
    document.add_paragraph("收到退货后四十八小时内原路退款。")
    path = tmp_path / "售后政策.docx"
    document.save(str(path))
    return path


@pytest.mark.slow  # rebuilds the index
def test_a_word_file_is_previewed_added_answered_and_labelled_as_teacher_material(school, policy):
    prepared = preview(school, policy, "teacher")
    titles = [title for title, _ in prepared.sections]
    assert any(t.endswith("教师资料：售后政策.docx › 店铺售后政策 › 退款时效") for t in titles), titles
    assert not (school.corpus_dir / "teacher").exists()  # a preview writes nothing

    manifest = add(school, prepared)
    assert manifest["sources"]["teacher"] == len(prepared.sections)
    mentor = Mentor.load(school.index_dir, school)
    # The stand-in embedder has no calibration: a rule that lets a word match answer.
    answer = mentor.with_settings(school, rule=AbstentionRule(1.0, 0.7)).ask("质量问题来回运费由谁承担", sources=["teacher"])
    top = answer.citations[0]
    assert top.source == "teacher" and top.label == "教师资料" and "售后政策.docx" in top.title
    assert answer.to_json()["citations"][0]["source"] == "teacher"
    assert list_uploads(school) == [("售后政策.md", "售后政策.docx", "teacher")]


def test_a_pdf_keeps_its_page_numbers_and_can_go_under_a_book_section(school_ro, tmp_path):
    path = tmp_path / "rules.pdf"
    path.write_bytes(_pdf(["Return policy: seven days, no reason needed.", "Refund within 48 hours."]))
    prepared = preview(school_ro, path, "m1t2")
    assert any("第 1 页" in title and title.startswith("模块一") for title, _ in prepared.sections)


@pytest.mark.slow  # rebuilds the index
def test_the_same_name_is_refused_unless_replaced_and_removal_takes_it_out(school, policy):
    add(school, preview(school, policy, "teacher"))
    with pytest.raises(UploadError, match="同名"):
        add(school, preview(school, policy, "teacher"))
    add(school, preview(school, policy, "m1t2"), replace=True)
    assert list_uploads(school)[0][2] == "m1t2"
    remove(school, "售后政策.md")
    assert list_uploads(school) == [] and load_index(school).manifest["sources"]["teacher"] == 0
    with pytest.raises(UploadError, match="没有名为"):
        remove(school, "售后政策.md")


def _encrypted_pdf(path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = path.with_suffix(".plain.pdf")
    plain.write_bytes(_pdf(["secret"]))
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt("pw")
    with path.open("wb") as handle:
        writer.write(handle)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("setup.exe", lambda p: p.write_bytes(b"MZ..."), "不支持的文件类型"),
        ("empty.txt", lambda p: p.write_bytes(b""), "是空的"),
        ("scan.pdf", lambda p: p.write_bytes(_pdf([])), "没有文字层"),
        ("locked.pdf", _encrypted_pdf, "加密"),
        ("gbk.txt", lambda p: p.write_bytes("退换货规则".encode("gbk")), "UTF-8"),
        ("dots.md", lambda p: p.write_text("！！！……", encoding="utf-8"), "没有可用的文字"),
        ("broken.docx", lambda p: p.write_bytes(b"not a zip"), "无法作为 Word 文档打开"),
    ],
)
def test_a_bad_upload_is_explained_and_changes_nothing(school_ro, tmp_path, name, make, message):
    before = load_index(school_ro).manifest["built_at"]
    path = tmp_path / name
    make(path)
    with pytest.raises(UploadError, match=message):
        preview(school_ro, path, "teacher")
    assert load_index(school_ro).manifest["built_at"] == before and list_uploads(school_ro) == []


def test_an_oversized_upload_names_the_limit(school_ro, tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 16)
    path = tmp_path / "big.txt"
    path.write_text("退换货规则" * 10, encoding="utf-8")
    with pytest.raises(UploadError, match="上限"):
        preview(school_ro, path, "teacher")


def test_an_unknown_section_is_refused(school_ro, policy):
    with pytest.raises(UploadError, match="目录里没有"):
        preview(school_ro, policy, "m9t9")


@pytest.mark.slow  # rebuilds the index
def test_a_failed_rebuild_puts_the_corpus_back(school, policy, monkeypatch):
    before = load_index(school).manifest["built_at"]

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(uploads, "build_index", broken)
    with pytest.raises(OSError):
        add(school, preview(school, policy, "teacher"))
    assert list_uploads(school) == [] and load_index(school).manifest["built_at"] == before


@pytest.mark.slow  # rebuilds the index
def test_the_command_line_adds_lists_and_removes(school, policy, capsys):
    common = ["--corpus", str(school.corpus_dir), "--index", str(school.index_dir), "--cache", str(school.cache_dir)]
    common += ["--embedder", "hash:256"]
    assert main(["add", str(policy), "--under", "teacher", "--dry-run", *common]) == 0
    assert list_uploads(school) == []
    assert main(["add", str(policy), "--under", "teacher", *common]) == 0
    assert main(["uploads", *common]) == 0
    assert "售后政策.md\t售后政策.docx\tteacher" in capsys.readouterr().out
    assert main(["add", str(policy), *common]) == 1  # the same name again
    assert "同名" in capsys.readouterr().err
    assert main(["remove", "售后政策.md", *common]) == 0 and list_uploads(school) == []


def test_a_second_instructor_is_asked_to_wait(school_ro, policy):
    from filelock import FileLock

    folder = school_ro.corpus_dir / "teacher"
    folder.mkdir(exist_ok=True)
    prepared = preview(school_ro, policy, "teacher")
    with FileLock(str(folder / ".uploads.lock")):  # another instructor's upload is being indexed
        with pytest.raises(UploadError, match="另一位老师"):
            add(school_ro, prepared)
    assert list_uploads(school_ro) == []


def test_another_replica_serves_an_upload_after_its_recheck_without_rebuilding(school, policy):
    """Replicas share the corpus and index folders: what one adds, the others pick up on their next re-check."""
    from kefu_mentor.app.context import AppContext

    replica_a, replica_b = AppContext(school), AppContext(school)
    replica_a.mentor(), replica_b.mentor()
    with replica_a.changing():
        add(school, preview(school, policy, "teacher"))
        replica_a.replace_mentor(Mentor.load(school.index_dir, school))
    built_at = replica_a.mentor().manifest["built_at"]
    in_flight = replica_b.mentor()
    assert replica_b.recheck() is True
    assert replica_b.mentor().manifest["built_at"] == built_at  # loaded the shared index, not a second build
    assert any(c.source == "teacher" for c in replica_b.mentor().chunks)
    assert not any(c.source == "teacher" for c in in_flight.chunks)  # a question in flight keeps its index
