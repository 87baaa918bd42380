"""The app's handlers without a browser: the page is usable while the index loads."""

from __future__ import annotations

import threading

import pytest

from kefu_mentor.app.chat_tab import ChatTab
from kefu_mentor.app.context import AppContext
from kefu_mentor.app.drill_tab import DrillTab
from kefu_mentor.app.teacher_tab import TeacherTab
from kefu_mentor.pipeline import mentor as mentor_module


def test_questions_wait_for_a_loading_index_and_are_kept(mini_settings, monkeypatch):
    release = threading.Event()
    real_load = mentor_module.Mentor.load.__func__

    def slow_load(cls, *args, progress=None, **kwargs):
        progress("embed", 3, 10)  # a rebuild on its way
        release.wait(10)
        return real_load(cls, *args, progress=progress, **kwargs)

    monkeypatch.setattr(mentor_module.Mentor, "load", classmethod(slow_load))
    ctx = AppContext(mini_settings.with_(load_wait=0.2))
    chat = ChatTab(ctx)
    ctx.load_in_background()

    # While it loads: a clear message with the count, the question stays in the box, the status says so.
    messages, history, _, _, box, _, _ = chat.respond("客服分为哪几类", [], [], ["textbook"], 3)
    assert "正在建立索引" in messages[-1]["content"] and "3/10" in messages[-1]["content"]
    assert box == "客服分为哪几类" and history == []
    assert "正在建立索引" in ctx.status()
    assert "正在建立索引" in chat.api_ask("客服分为哪几类")["error"]
    # The drill families come from the templates, so the page can be built before the index is ready.
    assert DrillTab(ctx).families()

    release.set()
    assert ctx.busy(wait=10) is None
    messages, history, sources, _, box, _, _ = chat.respond("泄露他人信息会被扣几分？", [], [], ["textbook"], 3)
    assert "[1]" in messages[-1]["content"] and history == ["泄露他人信息会被扣几分？"] and box == ""
    assert "索引状态" in ctx.status()


def test_instructor_actions_share_one_check(mini_settings):
    open_ctx = AppContext(mini_settings, instructor_password=None, network=True)
    assert "教师功能已关闭" in open_ctx.instructor_denied("anything")
    guarded = AppContext(mini_settings, instructor_password="secret", network=True)
    assert guarded.instructor_denied("secret") is None
    assert guarded.instructor_denied("wrong") == "教师密码不对。"
    assert "教师功能已关闭" in ChatTab(open_ctx).rebuild("anything")


@pytest.mark.slow  # two rebuilds of the mini index (about 25 s)
def test_the_app_brings_in_a_fixed_corpus_without_a_restart(mini_copy):
    ctx = AppContext(mini_copy)
    teacher = TeacherTab(ctx)
    assert ctx.recheck() is False  # nothing loaded yet, nothing to do
    ctx.mentor()
    assert ctx.recheck() is False  # the corpus is what the index was built from

    page = mini_copy.corpus_dir / "textbook" / "m1-t2.md"
    original = page.read_text(encoding="utf-8")
    page.write_text(original.replace("source: textbook", "source: blog"), encoding="utf-8")
    assert ctx.recheck() is False  # broken: the last good index keeps serving, with the reason
    answer = ctx.mentor().ask("泄露他人信息会被扣几分？")
    assert not answer.abstained and "m1-t2.md 第 2 行" in answer.notices[0]
    assert "资料改动还没进索引" in teacher.refresh("")[0]
    in_flight = ctx.mentor()

    page.write_text(original + "\n补充一句新的正文：客服交接班要写清未办完的事。\n", encoding="utf-8")
    assert ctx.recheck() is True  # fixed: rebuilt and switched
    assert ctx.stale_reason() is None and "资料改动还没进索引" not in teacher.refresh("")[0]
    assert any("交接班要写清" in c.text for c in ctx.mentor().chunks)
    # A question that started on the old index still finishes on it.
    assert not in_flight.ask("泄露他人信息会被扣几分？").abstained
    assert ctx.recheck() is False  # nothing changed since


@pytest.mark.slow  # two rebuilds
def test_the_teacher_tab_previews_adds_and_removes_material(tmp_path, monkeypatch):
    import shutil

    from kefu_mentor import Settings, build_index

    from .conftest import MINI_CORPUS

    corpus = shutil.copytree(MINI_CORPUS, tmp_path / "corpus")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", embedder="hash:256")
    build_index(settings)
    ctx = AppContext(settings, instructor_password="secret")
    tab = TeacherTab(ctx)
    handout = tmp_path / "讲义.md"
    handout.write_text("# 交接班\n\n下班前把未办完的售后单写进交接表，注明买家的诉求和已经答应的事。\n", encoding="utf-8")

    assert tab.upload_preview("wrong", str(handout), "teacher") == "教师密码不对。"
    assert "请先选择" in tab.upload_preview("secret", None, "teacher")
    shown = tab.upload_preview("secret", str(handout), "teacher")
    assert "教师资料：讲义.md › 交接班" in shown and tab.uploads_table() == []
    assert ("教师资料（不属于教材的某一节）", "teacher") == tab.sections()[0]

    message, table, _, _ = tab.upload_add("secret", str(handout), "teacher", False, progress=None)
    assert message.startswith("已添加") and table == [["讲义.md", "讲义.md", "teacher"]]
    hits = ctx.mentor().search("下班前交接表写什么", sources=["teacher"])[1]
    assert hits and hits[0].chunk.source == "teacher"
    message, _, _, _ = tab.upload_add("secret", str(handout), "teacher", False, progress=None)
    assert message.startswith("没有添加") and "同名" in message

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    from kefu_mentor.modes import uploads

    with monkeypatch.context() as patch:
        patch.setattr(uploads, "build_index", disk_full)
        other = tmp_path / "另一份.md"
        other.write_text("# 退款\n\n退款在收到退货后两天内原路退回。\n", encoding="utf-8")
        result = tab.upload_add("secret", str(other), "teacher", False, progress=None)
        assert len(result) == 4 and result[0].startswith("没有添加") and "写入失败" in result[0]
        result = tab.upload_remove("secret", "讲义.md", progress=None)
        assert len(result) == 3 and result[0].startswith("没有删除") and "写入失败" in result[0]
    assert tab.uploads_table() == [["讲义.md", "讲义.md", "teacher"]]  # both put back as they were

    message, table, _ = tab.upload_remove("secret", "讲义.md", progress=None)
    assert message.startswith("已删除") and table == []
    assert not ctx.mentor().search("下班前交接表写什么", sources=["teacher"])[1]


def test_a_thumbs_down_with_a_reason_reaches_the_teacher_view_and_the_csv(mini_settings, tmp_path):
    import csv
    from types import SimpleNamespace

    from kefu_mentor.modes.qlog import QuestionLog

    settings = mini_settings.with_(data_dir=tmp_path / "data")
    ctx = AppContext(settings, question_log=QuestionLog(tmp_path / "data" / "questions.sqlite"))
    chat, teacher = ChatTab(ctx), TeacherTab(ctx)
    messages, history, _, _, _, turns, _ = chat.respond("泄露他人信息会被扣几分？", [], [], ["textbook"], 3)
    answer_index = len(messages) - 1
    reason = "没说清情节严重时扣几分，我手机 13912345678"
    thanks = chat.feedback(SimpleNamespace(index=answer_index, liked=False), turns, reason)
    assert "已记录你的 👎" in thanks
    assert chat.feedback(SimpleNamespace(index=99, liked=False), turns, "") == ""  # not an answer: nothing stored

    summary, _, _, _, _, _, disliked, files, _, _ = teacher.refresh("")
    assert "点踩 1 次" in summary
    (row,) = disliked
    assert row[1].endswith("二、平台规则") and row[2] == "泄露他人信息会被扣几分？"
    assert "没说清情节严重时扣几分" in row[3] and "13912345678" not in row[3]  # redacted like the questions
    # Closing the loop: the row preselects its subsection for an upload and fills the question to re-ask.
    under, question, _ = teacher.pick_disliked(SimpleNamespace(row_value=row))
    assert under["value"] == row[0] and row[0].startswith("m1t2") and question == "泄露他人信息会被扣几分？"
    assert "现在第一条引用是 **教材原文**" in teacher.check(question)
    assert "请先填一个问题" in teacher.check("  ")
    exported = next(f for f in files if f.endswith("feedback.csv"))
    with open(exported, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["时间", "评价", "小节"] and rows[1][1] == "👎" and "没说清情节严重" in rows[1][5]


@pytest.mark.slow  # a rebuild
def test_the_watcher_never_undoes_an_upload_and_retries_after_a_build_elsewhere(mini_copy):
    from filelock import FileLock

    ctx = AppContext(mini_copy)
    served = ctx.mentor()
    page = mini_copy.corpus_dir / "textbook" / "m1-t2.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n补充一句：交接班时写清未办完的售后单。\n", encoding="utf-8")
    with ctx.changing():  # an instructor's upload or rebuild is under way in this process
        assert ctx.recheck() is False and ctx.mentor() is served
    with FileLock(str(mini_copy.index_dir.parent / f".{mini_copy.index_dir.name}.lock")):  # a CLI build elsewhere
        assert ctx.recheck() is False
    assert ctx.recheck() is True  # not given up: the next round brings the change in
    assert any("交接班时写清" in c.text for c in ctx.mentor().chunks)


def test_a_follow_up_says_so_and_can_be_answered_on_its_own(mini_settings):
    ctx = AppContext(mini_settings)
    chat = ChatTab(ctx)
    messages, history, _, _, _, turns, _ = chat.respond("泄露他人信息会被扣几分？", [], [], ["textbook"], 3)
    messages, history, _, _, _, turns, alone = chat.respond("那情节严重呢？", messages, history, ["textbook"], 3, turns)
    assert "已结合上一问：“泄露他人信息会被扣几分？”" in messages[-1]["content"] and alone["visible"] is True
    messages, history, _, _, _, turns, alone = chat.alone(messages, history, ["textbook"], 3, turns)
    assert "单独回答" in messages[-1]["content"] and "已结合上一问" not in messages[-1]["content"]
    assert alone["visible"] is False and len(messages) == 4
    # What the browser keeps across a reload comes back as it was; anything else is an empty chat.
    assert chat.restore(chat.save(messages, history, turns))[:3] == (messages, history, turns)
    assert chat.restore({"chat": "garbage"})[:3] == ([], [], {})


def test_a_quiz_session_is_shuffled_keeps_a_running_score_and_ends_with_a_summary(real_settings):
    from kefu_mentor.app.quiz_tab import QuizTab

    quiz = QuizTab(AppContext(real_settings))
    first, *_ = quiz.start("m1", seed=1)
    second, *_ = quiz.start("m1", seed=2)
    assert len(first) >= 10 and [q.id for q in first] != [q.id for q in second]
    questions, position, shown, _, scores, typed, chosen, ticked = quiz.start("m1", seed=3)
    assert "第 1/" in shown
    # The answer box fits the question: radio buttons for one choice, tick boxes for several, text otherwise.
    kind = questions[0].kind
    assert (chosen["visible"] is True) is (kind in ("single", "template")) and (ticked["visible"] is True) is (kind == "multiple")
    assert (typed["visible"] is True) is (kind not in ("single", "template", "multiple"))
    message, scores = quiz.answer("   ", None, [], questions, position, scores)
    assert "请" in message and scores == {}
    key = questions[0].key
    message, scores = quiz.answer(key, key, list(key), questions, position, scores)  # the key itself is right
    assert "目前**：已答 1/" in message and scores == {"0": 1.0}
    while True:
        position, shown, *_ = quiz.next(questions, position, scores)
        if "本次测验结束" in shown:
            break
    assert position == len(questions) - 1 and f"共 {len(questions)} 题" in shown and "答对 1 题" in shown
    assert "建议重读" in shown and "<details>" in shown
    # Sections in the book's order (任务一, 任务二, 任务三), not in the order their names sort.
    tasks = [t for t in ("任务一", "任务二", "任务三") if f"· {t}" in shown]
    assert len(tasks) >= 2 and [shown.index(f"· {t}") for t in tasks] == sorted(shown.index(f"· {t}") for t in tasks)


def test_the_teacher_view_lists_the_weakest_drill_reply_and_a_wrong_quiz_answer_by_need(real_settings, tmp_path):
    from kefu_mentor.app.drill_tab import DrillTab
    from kefu_mentor.app.quiz_tab import QuizTab
    from kefu_mentor.modes.qlog import QuestionLog

    settings = real_settings.with_(data_dir=tmp_path / "data")
    ctx = AppContext(settings, question_log=QuestionLog(tmp_path / "data" / "questions.sqlite"))
    drill, quiz, teacher = DrillTab(ctx), QuizTab(ctx), TeacherTab(ctx)
    scenario, opening, *_ = drill.next("议价", {})
    result, _, summary, _, following, said, _ = drill.submit(
        "亲，理解您想买得划算，现在下单可以用满减券，到手价更低，我帮您算一下～", scenario, {}, opening, "3班"
    )
    assert following["turn"] == 2 and "第 2 轮" in said  # the buyer answers back
    drill.submit("爱买不买", following, summary, said, "3班")
    ChatTab(ctx).respond("能便宜点吗 便宜就拍", [], [], ["textbook", "supplement", "template"], 5, {}, "3班")
    questions, position, *_ = quiz.start("m1", seed=4)
    wrong = "完全不对的答案" if questions[0].kind not in ("single", "template", "multiple") else ""
    quiz.answer(wrong, "Z", ["Z"], questions, position, {}, "3班")

    summary, focus, coverage, families, weakest, *_ = teacher.refresh("", "3班")
    assert "情景演练 2 次回复" in summary and "练习测验 1 次作答（答错 1 次）" in summary
    scores = [row[4] for row in weakest]
    assert scores == sorted(scores)  # lowest score first
    assert any(row[0] == "情景演练" and row[3] == "爱买不买" and row[4] <= 20 for row in weakest)
    assert any(row[0] == "练习测验" and row[4] == 0 for row in weakest)
    # The family's row holds the buyer's question asked in the chat and both drill turns.
    assert families[0][0] == "议价" and families[0][1] == 1 and families[0][3] == 2 and families[0][-1] == "爱买不买"
    needs = [row[1] for row in coverage]
    assert needs == sorted(needs, reverse=True) and needs[0] >= 1
    assert "先讲什么" in focus and coverage[0][0] in focus
