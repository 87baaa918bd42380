"""check-corpus and the instructor view: coverage numbers, gaps, duplicates, exports."""

from __future__ import annotations

import csv
import json

from kefu_mentor.modes.coverage import check_corpus_report
from kefu_mentor.modes.instructor import coverage_chart, coverage_table, export_csv, group_gaps
from kefu_mentor.modes.qlog import LoggedQuestion, QuestionLog
from kefu_mentor.schema import Answer
from kefu_mentor.tools.cli import main


def _entry(i: int, question: str, abstained: bool, toc: str | None = None, confidence: float = 0.9) -> LoggedQuestion:
    return LoggedQuestion(i, 0.0, question, abstained, confidence, toc, None)


def test_check_corpus_counts_chunks_per_subsection(mini_settings):
    report, ok = check_corpus_report(mini_settings, as_json=True)
    data = json.loads(report)
    rows = {r["toc_id"]: r for r in data["coverage"]}
    assert ok and data["ok"]
    assert rows["m1t2-k2"]["textbook"] == 1 and rows["m1t2-k2"]["supplement"] == 0  # one topic passage
    assert rows["m3t2-k1"]["supplement"] == 1 and rows["m3t2-k1"]["template"] == 1
    assert data["gaps"] == []


def test_check_corpus_flags_gaps_and_duplicates(mini_copy):
    toc = mini_copy.corpus_dir / "toc.yaml"
    toc.write_text(
        toc.read_text(encoding="utf-8") + "  - {id: m7, title: 模块七 网店客服团队管理, page: 235}\n", encoding="utf-8"
    )
    card = mini_copy.corpus_dir / "supplement" / "m3-t2.md"
    text = card.read_text(encoding="utf-8")
    body = text.split("### 催付的时机\n", 1)[1]
    card.write_text(text + "\n### 催付的时机（重复）\n" + body, encoding="utf-8")
    report, ok = check_corpus_report(mini_copy)
    assert not ok
    assert "没有任何资料" in report and "模块七" in report
    assert "近似重复" in report


def test_coverage_counts_first_citations_and_citations_at_any_rank(mini_settings):
    from dataclasses import replace

    log = [
        replace(_entry(1, "泄露信息扣几分", False, "m1t2-k2"), cited=("m1t2-k2", "m1t2-k4")),
        _entry(2, "泄露信息严重扣几分", False, "m1t2-k2"),  # logged before every citation was kept
        _entry(3, "红烧肉怎么做", True),
    ]
    table = {r["toc_id"]: r for r in coverage_table(mini_settings, log)}
    assert table["m1t2-k2"]["questions"] == 2 and table["m1t2-k2"]["cited"] == 2 and not table["m1t2-k2"]["never_cited"]
    # Cited second, never first: counted, and not reported as never cited.
    assert table["m1t2-k4"]["questions"] == 0 and table["m1t2-k4"]["cited"] == 1 and not table["m1t2-k4"]["never_cited"]
    assert sum(r["never_cited"] for r in table.values()) == len(table) - 2


def test_gaps_are_grouped_by_similarity():
    log = [
        _entry(1, "红烧肉怎么做", True),
        _entry(2, "红烧肉怎么做才好吃", True),
        _entry(3, "股票推荐", True),
        _entry(4, "直通车怎么出价", False, "m1t2-k2", confidence=0.2),
        _entry(5, "客服分几类", False, "m1t1-k3"),
    ]
    groups = group_gaps(log)
    assert groups[0].count == 2 and "红烧肉" in groups[0].example
    assert sum(g.count for g in groups) == 4  # the confident answer is not a gap
    assert any(g.low_confidence == 1 for g in groups)


def test_exports_are_readable_csv_and_png(mini_settings, tmp_path):
    log = [_entry(1, "红烧肉怎么做", True)]
    table = coverage_table(mini_settings, log)
    coverage_path, gaps_path = export_csv(table, group_gaps(log), tmp_path)
    with coverage_path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "目录id" and len(rows) == len(table) + 1
    assert "红烧肉怎么做" in gaps_path.read_text(encoding="utf-8-sig")
    png = coverage_chart(table, tmp_path / "coverage.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_question_that_looks_like_a_formula_is_exported_as_text(mini_settings, tmp_path):
    attacks = ['=HYPERLINK("http://example.invalid","点我领取")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"]
    log = [_entry(i, q, True) for i, q in enumerate(attacks, 1)] + [_entry(9, "红烧肉怎么做", True)]
    _, gaps_path = export_csv(coverage_table(mini_settings, log), group_gaps(log), tmp_path)
    with gaps_path.open(encoding="utf-8-sig", newline="") as handle:
        cells = [cell for row in list(csv.reader(handle))[1:] for cell in row]
    assert cells and not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)  # kept, but shown as text
    assert "红烧肉怎么做" in cells  # ordinary text is left alone


def test_the_coverage_command_reads_one_class_from_the_log_file(mini_settings, tmp_path, capsys):
    """`kefu-mentor coverage --log F --class 2班 --json`: that class's gaps only; no file, no gaps."""
    path = tmp_path / "questions.sqlite"
    with QuestionLog(path) as log:
        log.record(Answer("直播间的弹幕怎么管理", "", (), True, 0.0), "2班")
        log.record(Answer("仓库盘点怎么做", "", (), True, 0.0), "3班")
    where = ["--corpus", str(mini_settings.corpus_dir), "--index", str(mini_settings.index_dir)]
    assert main(["coverage", "--json", "--log", str(path), "--class", "2班", *where]) == 0
    gaps = json.loads(capsys.readouterr().out)["gaps"]
    assert [g["questions"] for g in gaps] == [["直播间的弹幕怎么管理"]]
    assert main(["coverage", "--json", "--log", str(tmp_path / "none.sqlite"), *where]) == 0
    assert json.loads(capsys.readouterr().out)["gaps"] == []
