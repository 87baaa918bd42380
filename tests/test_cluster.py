"""A school's set-up with real parts: PostgreSQL from Debian's package, two app replicas, nginx.

Slow (starts servers); `make test` installs postgresql and nginx when missing.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from kefu_mentor.modes.qlog import LogConfigError, LogUnavailable, QuestionLog
from kefu_mentor.schema import Answer
from kefu_mentor.tools.cluster import LocalCluster, LocalPostgres, free_port, nginx_config

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "泄露他人信息会被扣几分？",
    "网店客服分为哪几类？",
    "买家说图片和实物颜色不一样咋回",
    "客服的职责有哪些",
    "顾客让我把别人的地址发给他",
]


def _answer(question: str) -> Answer:
    return Answer(question, "", (), False, 0.5)


def test_shipped_nginx_config_is_the_generated_one():
    shipped = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert shipped == nginx_config(["127.0.0.1:7861", "127.0.0.1:7862"], "80")


def test_a_database_address_of_the_wrong_kind_is_refused_in_chinese():
    with pytest.raises(LogConfigError, match="不支持的类型"):
        QuestionLog("mysql://kefu:secret@db.example/kefu")


@pytest.mark.slow
def test_log_survives_postgres_down_at_start_and_mid_run(tmp_path):
    port = free_port()
    qlog = QuestionLog(f"postgresql://kefu@127.0.0.1:{port}/kefu_mentor", retry_interval=0.5)
    # Nothing listens yet: the log says so, keeps the entry, and does not raise.
    qlog.record(_answer("数据库还没启动时的问题"), "class-a")
    assert qlog.pending == 1 and "暂时连不上" in qlog.problem
    with pytest.raises(LogUnavailable, match="读不到"):
        qlog.entries()
    pg = LocalPostgres(port).start()
    try:
        deadline = time.time() + 30
        while qlog.pending and time.time() < deadline:
            time.sleep(0.2)
        assert qlog.pending == 0 and qlog.problem is None
        qlog.record(_answer("正常时的问题"), "class-a")
        pg.stop()
        qlog.record(_answer("数据库中途断开时的问题 13812345678"), "class-b")
        assert qlog.pending == 1 and qlog.problem
        pg.restart()
        deadline = time.time() + 30
        while qlog.pending and time.time() < deadline:
            time.sleep(0.2)
        questions = [e.question for e in qlog.entries()]
        assert questions == ["数据库还没启动时的问题", "正常时的问题", "数据库中途断开时的问题 [手机号]"]
        assert [e.question for e in qlog.entries("class-b")] == ["数据库中途断开时的问题 [手机号]"]
        assert qlog.classes() == ["class-a", "class-b"]
    finally:
        qlog.close()
        pg.close()


@pytest.mark.slow
def test_two_replicas_behind_nginx_share_one_postgres_log(real_settings):
    from gradio_client import Client

    from kefu_mentor.app.context import AppContext
    from kefu_mentor.app.teacher_tab import TeacherTab

    pg = LocalPostgres().start()
    cluster = LocalCluster(real_settings, replicas=2, root=ROOT, database_url=pg.url)
    log = None
    try:
        cluster.start()
        for member in cluster.members:  # each replica has loaded its index before the load starts
            warm = Client(f"http://{member.address}/", verbose=False).predict(
                QUESTIONS[0], [], 5, None, "warmup", api_name="/ask"
            )
            assert warm.get("citations"), warm
        expected = {q: [c["chunk_id"] for c in warm_answer(cluster, q)["citations"]] for q in QUESTIONS}

        def run(clients: int, per_client: int, kill_after: int | None = None) -> tuple[Counter, Counter, list[str]]:
            asked, attempts, errors = Counter(), Counter(), []
            lock = threading.Lock()
            done = Counter()

            def client_run(n: int) -> None:
                client = Client(cluster.url, verbose=False)
                for i in range(per_client):
                    question = QUESTIONS[(n + i) % len(QUESTIONS)]
                    class_code = f"{'kill' if kill_after else 'load'}-{n}"
                    for _ in range(3):  # a learner whose replica died asks again (a new session)
                        with lock:
                            attempts[(class_code, question)] += 1
                        try:
                            answer = client.predict(question, [], 5, None, class_code, api_name="/ask")
                        except Exception as exc:
                            if kill_after is None:
                                with lock:
                                    errors.append(f"client {n}: {exc!r}")
                                return
                            client = Client(cluster.url, verbose=False)
                            continue
                        if (
                            answer.get("question") != question
                            or [c["chunk_id"] for c in answer["citations"]] != expected[question]
                        ):
                            with lock:
                                errors.append(f"client {n}: answer to the wrong question for {question!r}")
                        with lock:
                            asked[(class_code, question)] += 1
                            done["n"] += 1
                        break
                    else:
                        with lock:
                            errors.append(f"client {n}: no answer after 3 tries")

            threads = [threading.Thread(target=client_run, args=(n,)) for n in range(clients)]
            for t in threads:
                t.start()
            if kill_after is not None:
                while done["n"] < kill_after and any(t.is_alive() for t in threads):
                    time.sleep(0.05)
                with QuestionLog(pg.url) as reader:
                    before = Counter(e.replica for e in reader.entries())
                cluster.members[1].kill()
                run.logged_before_kill = before
            for t in threads:
                t.join(600)
            return asked, attempts, errors

        # 1. Twenty learners through nginx: no errors, nobody gets another's answer.
        asked, _, errors = run(20, 10)
        assert errors == []
        log = QuestionLog(pg.url)  # closed at the end, after the teacher view has read it
        rows = [e for e in log.entries() if e.class_code.startswith("load-")]
        logged = Counter((e.class_code, e.question) for e in rows)
        assert logged == asked  # every question logged exactly once
        by_replica = Counter(e.replica for e in rows)
        assert set(by_replica) == {"replica-1", "replica-2"}, by_replica

        # 2. The teacher view (any replica's) counts both replicas' learners.
        ctx = AppContext(real_settings, question_log=log)
        summary = TeacherTab(ctx).refresh("")[0]
        assert f"记录了 {len(log.entries())} 个提问" in summary

        # 3. One replica dies in the middle: its learners move to the other, nothing logged is lost.
        asked, attempts, errors = run(20, 6, kill_after=40)
        assert errors == []
        assert sum(asked.values()) == 20 * 6
        with QuestionLog(pg.url) as reader:
            after = reader.entries()
        logged = Counter((e.class_code, e.question) for e in after if e.class_code.startswith("kill-"))
        for key, n in asked.items():
            assert n <= logged[key] <= attempts[key], (key, n, logged[key], attempts[key])
        before = run.logged_before_kill
        now = Counter(e.replica for e in after)
        assert now["replica-2"] >= before["replica-2"] > 0
        assert now["replica-1"] > before["replica-1"]
    finally:
        if log is not None:
            log.close()
        cluster.close()
        pg.close()


def warm_answer(cluster: LocalCluster, question: str) -> dict:
    from gradio_client import Client

    return Client(f"http://{cluster.members[0].address}/", verbose=False).predict(
        question, [], 5, None, "warmup", api_name="/ask"
    )


def test_the_teacher_view_says_the_database_is_away_and_still_shows_coverage(mini_settings):
    """A database that is down: the chat still logs to memory, the teacher view explains, nothing raises."""
    from kefu_mentor.app.context import AppContext
    from kefu_mentor.app.teacher_tab import TeacherTab

    qlog = QuestionLog(f"postgresql://kefu@127.0.0.1:{free_port()}/kefu_mentor", retry_interval=60)
    ctx = AppContext(mini_settings, question_log=qlog)
    ctx.record(_answer("数据库断开时的问题"))
    summary, _, coverage, *_ = TeacherTab(ctx).refresh("")
    assert "提问日志读不到" in summary and "学员的提问照常回答" in summary
    assert coverage  # the coverage table does not need the log
    assert qlog.pending == 1
    qlog.close()


def test_an_unusable_database_address_leaves_the_app_answering_and_says_why(mini_settings):
    """What `launch` does with a `mysql://` address: no log, the reason on the teacher view, answers go on."""
    from kefu_mentor.app.chat_tab import ChatTab
    from kefu_mentor.app.context import AppContext
    from kefu_mentor.app.teacher_tab import TeacherTab

    with pytest.raises(LogConfigError) as info:
        QuestionLog.open("mysql://kefu:secret@db.example/kefu", mini_settings.data_dir)
    assert "secret" not in str(info.value)  # the password is never shown
    ctx = AppContext(mini_settings, log_problem=f"提问日志不可用，本次运行不记录提问：{info.value}")
    assert "[1]" in ChatTab(ctx).respond("泄露他人信息会被扣几分？", [], [], ["textbook"], 3)[0][-1]["content"]
    assert "提问日志不可用" in TeacherTab(ctx).refresh("")[0]
