"""Personal data never reaches the question log; the log survives crashes and stays bounded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kefu_mentor.modes.qlog import QuestionLog
from kefu_mentor.modes.redact import redact
from kefu_mentor.schema import Answer

SAMPLES = [
    ("买家说电话13812345678打不通", "13812345678", "[手机号]"),
    ("他留的是 +86 139-1234-5678", "139-1234-5678", "[手机号]"),
    ("收件人：王小明 电话 15900001111 地址：浙江省杭州市西湖区文三路100号2幢301室", "王小明", "[姓名]"),
    ("收货地址：广东省深圳市南山区科技园南路88号 快点发", "科技园南路88号", "[地址]"),
    ("寄到上海市浦东新区张江路123弄5号楼吧", "张江路123弄", "[地址]"),
    ("身份证号码：110101199003071234 能帮我查吗", "110101199003071234", "[身份证号]"),
    ("我的身份证是44030419851231002X", "44030419851231002X", "[身份证号]"),
    ("订单号：3456789012345678901 一直没发货", "3456789012345678901", "[订单号]"),
    ("快递单号 SF1234567890123 查不到", "SF1234567890123", "[快递单号]"),
    ("4023456789123456789 这个单子退款了吗", "4023456789123456789", "[订单号]"),
    ("发到 abc.def@example.com 就行", "abc.def@example.com", "[邮箱]"),
    ("座机 0571-88888888", "0571-88888888", "[电话]"),
    # An English name with a pinyin surname, anywhere in the line.
    ("Jennifer Wu 的订单已拦截 改寄北京", "Jennifer Wu", "[姓名]"),
    # Digits spelled one at a time, a mobile number in Chinese numerals, an e-mail written with #.
    ("电话是1 5 8 0 2 2 7 6 6 1 3 打我", "1 5 8 0 2 2 7 6 6 1 3", "[手机号]"),
    ("扣扣 5 6 3 2 1 8 7 7 加我", "5 6 3 2 1 8 7 7", "[QQ号]"),
    ("号码是幺八六 零二一三 五五七九", "幺八六 零二一三 五五七九", "[手机号]"),
    ("发我邮箱 wang.lei#qq.com 就行", "wang.lei#qq.com", "[邮箱]"),
    # A numbered list with notes: the others in a list with names are names too.
    ("今日回访：1.马原（已接）2.白杨（关机）3.柳青（拒接）", "白杨", "[姓名]"),
]


@pytest.mark.parametrize(("text", "secret", "label"), SAMPLES)
def test_personal_data_is_redacted(text, secret, label):
    cleaned = redact(text)
    assert secret not in cleaned
    assert label in cleaned


def test_ordinary_questions_are_left_alone():
    for text in (
        "泄露他人信息会被扣几分？",
        "平邮一般 7~15 天到吗",
        "客单价 = 销售额 / 成交客户数",
        "买家要求 48 小时内发货",
        "New Balance 574 还有货吗",  # capitalised words without a pinyin surname are a product
        "取件码 8-2-3015 到驿站拿",  # a pickup code is written like a flat, and its label is no name
        "满 1 2 3 件包邮",
    ):
        assert redact(text) == text


def _answer(question: str, abstained: bool = False) -> Answer:
    return Answer(question, "", (), abstained, 1.0)


def test_log_stores_only_redacted_text(tmp_path):
    log = QuestionLog(tmp_path / "log.sqlite")
    log.record(_answer("收件人：李四 13800138000 包裹丢了怎么办"))
    stored = log.entries()[0].question
    assert "李四" not in stored and "13800138000" not in stored
    raw = (tmp_path / "log.sqlite").read_bytes() + (tmp_path / "log.sqlite-wal").read_bytes()
    assert b"13800138000" not in raw


def test_retention_is_bounded(tmp_path):
    log = QuestionLog(tmp_path / "log.sqlite", max_rows=5, prune_every=0)
    for i in range(12):
        log.record(_answer(f"问题{i}"))
    questions = [e.question for e in log.entries()]
    assert questions == [f"问题{i}" for i in range(7, 12)]


def test_log_survives_a_crashed_writer(tmp_path):
    path = tmp_path / "log.sqlite"
    log = QuestionLog(path)
    log.record(_answer("崩溃前的问题"))
    code = (
        "import os, sys\n"
        "sys.path.insert(0, '.')\n"
        "from kefu_mentor.modes.qlog import QuestionLog\n"
        "from kefu_mentor.schema import Answer\n"
        f"log = QuestionLog({str(path)!r})\n"
        "log.record(Answer('另一个进程的问题', '', (), True, 0.1))\n"
        "os._exit(9)  # die without closing anything\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    questions = [e.question for e in QuestionLog(path).entries()]
    assert questions == ["崩溃前的问题", "另一个进程的问题"]


def test_a_log_from_the_first_release_is_migrated_and_kept(tmp_path):
    """Version 1 had no class codes, replica names, uids or cited sections: opening it adds them."""
    import sqlite3
    import time

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE questions (id INTEGER PRIMARY KEY AUTOINCREMENT, asked_at REAL NOT NULL, question TEXT NOT NULL,"
            " abstained INTEGER NOT NULL, confidence REAL NOT NULL, toc_id TEXT, breadcrumb TEXT);"
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, given_at REAL NOT NULL, liked INTEGER NOT NULL,"
            " question TEXT NOT NULL, answer TEXT NOT NULL, reason TEXT NOT NULL, toc_id TEXT, breadcrumb TEXT);"
            f"INSERT INTO questions (asked_at, question, abstained, confidence, toc_id) VALUES ({time.time() - 60}, '旧问题', 0, 0.8, 'm1t2-k2');"
        )
    log = QuestionLog(path)
    log.record(_answer("新问题"), "2班")
    entries = log.entries()
    assert [(e.question, e.class_code) for e in entries] == [("旧问题", ""), ("新问题", "2班")]
    assert entries[0].toc_id == "m1t2-k2" and log.classes() == ["2班"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] >= 3
    # Version 4: the practice table, added to the old file too.
    log.record_practice("drill", "cuifu-001#1", "m3t2-k1", "催付", "拍了还没付", "亲，记得付款哦", 0.42, False, "2班")
    assert [p.item_id for p in log.practice("2班")] == ["cuifu-001#1"]


def test_drill_replies_and_quiz_answers_are_logged_redacted_per_class(tmp_path):
    log = QuestionLog(tmp_path / "q.sqlite")
    log.record_practice("quiz", "m1-fill-1", "m1t1-k3", "模块一 › 任务一", "网店的客服岗位分为…", "售前、售后", 1.0, True, "A班")
    log.record_practice(
        "drill", "wuliu-001#2", "m4t2-k1", "物流跟踪", "快递到哪了", "亲，您的收件人张伟 13912345678 已签收", 0.3, False, "B班"
    )
    (quiz,) = log.practice("A班")
    assert (quiz.kind, quiz.score, quiz.passed, quiz.topic) == ("quiz", 1.0, True, "模块一 › 任务一")
    (drill,) = log.practice("B班")
    assert "13912345678" not in drill.response and "[手机号]" in drill.response
    assert len(log.practice()) == 2 and log.classes() == ["A班", "B班"]
    with pytest.raises(ValueError):
        log.record_practice("exam", "x", None, "", "", "", 0.0, False)


def test_entries_waiting_for_a_database_keep_their_order_and_a_full_queue_says_so(tmp_path, monkeypatch):
    from kefu_mentor.modes import qlog as qlog_module

    log = QuestionLog(tmp_path / "log.sqlite", retry_interval=3600)
    real_write = log._db.write

    def away(sql, rows):
        raise OSError("disk unplugged")

    monkeypatch.setattr(qlog_module, "MAX_PENDING", 2)
    monkeypatch.setattr(log._db, "write", away)
    for i in range(3):
        log.record(_answer(f"问题{i}"))
    assert log.pending == 2 and "最早的 1 条记录已经丢弃" in log.problem
    monkeypatch.setattr(log._db, "write", real_write)
    assert log.flush() and log.problem is None
    assert [e.question for e in log.entries()] == ["问题1", "问题2"]
