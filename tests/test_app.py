"""The real app on a loopback port: driven by gradio_client and by headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ROOT

ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.slow


def test_gradio_client_api(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    answer = client.predict("泄露他人信息会被扣几分？", [], 5, ["textbook", "supplement", "template"], api_name="/ask")
    assert not answer["abstained"] and len(answer["citations"]) >= 5
    top = answer["citations"][0]  # the rule is cited with its topic, its heading in the text
    assert "不能泄露他人信息" in f"{top['breadcrumb']}\n{top['text']}"
    follow = client.predict("那情节严重呢？", ["泄露他人信息会被扣几分？"], 5, None, api_name="/ask")
    assert "48分" in follow["citations"][0]["text"]
    refused = client.predict("红烧肉怎么做才好吃？", [], 5, None, api_name="/ask")
    assert refused["abstained"] and refused["citations"] == []
    empty = client.predict("   ", [], 5, None, api_name="/ask")
    assert "问题是空的" in empty["error"]


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "make test installs Debian's chromium; run it through make test"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        page.goto(app_url)
        page.wait_for_selector("#km-question textarea", timeout=60_000)
        yield page
        browser.close()


def ask(page, question: str) -> None:
    page.fill("#km-question textarea", question)
    before = page.locator("#km-chat .message").count()
    page.click("#km-send")
    page.wait_for_function(f"document.querySelectorAll('#km-chat .message').length >= {before + 2}", timeout=60_000)


def test_textbook_question_shows_breadcrumb_and_highlight(page):
    ask(page, "泄露他人信息会被扣几分？")
    page.wait_for_selector("#km-sources details[open] mark", timeout=30_000)
    sources = page.inner_text("#km-sources")
    assert "不能泄露他人信息" in sources and "教材原文" in sources and "第 13 页" in sources
    highlighted = page.inner_text("#km-sources details[open] mark")
    assert highlighted and highlighted in sources
    chat = page.inner_text("#km-chat")
    assert "[1]" in chat and "Traceback" not in chat
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-answer.png"), full_page=True)
    # [n] opens passage n right under the answer; on a phone the passages sit there, not far below.
    page.locator("#km-chat a.km-cite").first.click()
    page.wait_for_selector("#km-chat .km-inline-sources details.km-src-1[open]", timeout=10_000)
    assert "不能泄露他人信息" in page.inner_text("#km-chat .km-inline-sources details.km-src-1")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    assert not page.locator("#km-sources").is_visible()
    assert page.locator("#km-chat .km-inline-sources details.km-src-2").is_visible()
    page.screenshot(path=str(ARTIFACTS / "app-answer-390.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_a_long_answer_folds_its_later_quotes_behind_one_click(page):
    ask(page, "心理素质的提升方法有哪些")
    _last_message(page, "展开其余")
    more = page.locator("#km-chat .message").last.locator("details.km-more")
    assert more.locator("summary").is_visible() and not more.locator("li").first.is_visible()
    more.locator("summary").click()
    page.wait_for_timeout(300)
    assert more.locator("li").first.is_visible() and "[" in more.locator("li").first.inner_text()


def _last_message(page, expected: str) -> str:
    """The last chat bubble once it has rendered (Gradio shows "Loading content" first)."""
    page.wait_for_function(
        "(t) => { const m = document.querySelectorAll('#km-chat .message'); return m.length && m[m.length - 1].innerText.includes(t); }",
        arg=expected,
        timeout=60_000,
    )
    return page.locator("#km-chat .message").last.inner_text()


def test_unrelated_question_is_refused(page):
    ask(page, "红烧肉怎么做才好吃？")
    _last_message(page, "教材中没有找到相关内容")
    assert "没有引用任何段落" in page.inner_text("#km-sources")
    page.screenshot(path=str(ARTIFACTS / "app-refusal.png"), full_page=True)


def test_markup_in_questions_is_shown_not_run(page):
    page.evaluate("window.__xss = 0")
    ask(page, '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>客服分为哪几类')
    assert page.evaluate("window.__xss") == 0
    page.wait_for_function(
        "document.querySelector('#km-chat').innerText.includes('<script>window.__xss=2</script>')", timeout=30_000
    )
    # The markup is shown as text and ignored for searching: the question itself is answered.
    last = _last_message(page, "[1]")
    assert "教材中没有找到相关内容" not in last


def test_empty_and_huge_input_get_kind_messages(page):
    ask(page, "   ")
    _last_message(page, "问题是空的")
    page.fill("#km-question textarea", "泄露他人信息会被扣几分？" + "啊" * 20_000)
    before = page.locator("#km-chat .message").count()
    page.click("#km-send")
    page.wait_for_function(f"document.querySelectorAll('#km-chat .message').length >= {before + 2}", timeout=60_000)
    last = _last_message(page, "太长")
    assert "Traceback" not in last


def test_example_button_and_new_conversation(page):
    page.get_by_role("button", name="网店客服分为哪几类？").click()
    page.wait_for_function("document.querySelector('#km-sources').innerText.includes('网店客服的分类')", timeout=60_000)
    page.click("#km-new")
    page.wait_for_function("document.querySelectorAll('#km-chat .message').length === 0", timeout=30_000)


def _first_source(page) -> str:
    return page.inner_text("#km-sources details[data-rank='1'] summary")


def _new_chat(page) -> None:
    # Only when there is something to clear: a click on an empty chat returns at once, and its
    # reply (an empty question box) could land after the next question is typed.
    if page.locator("#km-chat .message").count():
        page.click("#km-new")
        page.wait_for_function("document.querySelectorAll('#km-chat .message').length === 0", timeout=30_000)
        page.wait_for_function("document.querySelector('#km-question textarea').value === ''", timeout=30_000)


def test_conversations_read_follow_ups_only_and_survive_a_reload(page):
    # A buyer message pasted after an unrelated one gets what it gets in a fresh chat.
    _new_chat(page)
    ask(page, "你们是不是骗子")
    page.wait_for_selector("#km-sources details[data-rank='1']", timeout=30_000)
    fresh = _first_source(page)
    _new_chat(page)
    ask(page, "衣服小了能换麽")
    ask(page, "你们是不是骗子")
    page.wait_for_function(
        "(t) => document.querySelector(\"#km-sources details[data-rank='1'] summary\")?.innerText === t",
        arg=fresh,
        timeout=30_000,
    )
    assert "已结合上一问" not in _last_message(page, "[1]")
    # A real follow-up is read with its previous turn, says so, and can be answered alone.
    _new_chat(page)
    ask(page, "泄露他人信息会被扣几分？")
    ask(page, "那情节严重呢？")
    assert "已结合上一问" in _last_message(page, "已结合上一问") and page.locator("#km-alone").is_visible()
    # A reload keeps the conversation (the browser's own storage, written just after each answer).
    page.wait_for_timeout(1500)
    page.reload()
    page.wait_for_selector("#km-question textarea", timeout=60_000)
    page.wait_for_function("document.querySelector('#km-chat').innerText.includes('那情节严重呢')", timeout=30_000)
    page.click("#km-alone")
    _last_message(page, "单独回答")
    _new_chat(page)


def test_a_pasted_buyer_message_shows_its_scenario_chip_and_a_reply_to_copy(page):
    ask(page, "能便宜点吗 便宜就拍")
    last = _last_message(page, "场景：议价")
    assert "把握 0." in last and "Traceback" not in last
    # The recognised family's template leads, and its reply is ready to copy.
    page.wait_for_function(
        "document.querySelector('#km-reply textarea') && document.querySelector('#km-reply textarea').value.length > 10",
        timeout=30_000,
    )
    assert "话术" in page.inner_text("#km-sources details[open]")
    page.screenshot(path=str(ARTIFACTS / "app-scenario-chip.png"), full_page=True)
    # A learner's study question gets no chip.
    ask(page, "什么是网店客服？")
    assert "场景：" not in _last_message(page, "[1]")


def test_a_two_turn_drill_is_graded_item_by_item_and_flags_the_scenario_s_own_avoid_text(page):
    import re

    from kefu_mentor.modes.drills import load_scenarios

    from .conftest import REAL_CORPUS

    page.get_by_role("tab", name="情景演练").click()
    scenarios = load_scenarios(REAL_CORPUS)
    for _ in range(20):  # until a scenario whose second turn's 不要这样说 quotes what not to say
        page.click("#km-drill-next")
        page.wait_for_function("document.querySelector('#km-drill-opening').innerText.includes('买家')", timeout=60_000)
        page.wait_for_function("!document.querySelector('#km-drill-opening').innerText.includes('第 2 轮')", timeout=30_000)
        page.fill("#km-drill-reply textarea", "加我微信吧，私下转账给你便宜点")
        page.click("#km-drill-submit")
        page.wait_for_function("document.querySelector('#km-drill-opening').innerText.includes('第 2 轮')", timeout=60_000)
        result = page.inner_text("#km-drill-result")
        assert "先改这一点" in result and "引导买家到平台外交易或付款" in result
        assert "违规" in result and "回应" in result and "要点" in result  # verdicts in words, item by item
        # Turn 2: the buyer answers back; a reply saying what this turn's 不要这样说 names is flagged with it.
        opening = page.inner_text("#km-drill-opening")
        first = [line for line in opening.split("\n") if line.startswith("买家：")][0].removeprefix("买家：").strip()
        buyer = [line for line in opening.split("\n") if line.startswith("买家：")][-1].removeprefix("买家：").strip()
        scenario = next(s for s in scenarios if s.buyer_line == first and s.next_buyer == buyer)
        quoted = re.findall(r"“([^”]{4,30})”", scenario.next_avoid)
        if quoted:
            said = quoted[0]
            break
    page.fill("#km-drill-reply textarea", f"亲，{said}。")
    page.click("#km-drill-submit")
    page.wait_for_function("document.querySelector('#km-drill-result').innerText.includes('第 2 轮')", timeout=60_000)
    result = page.inner_text("#km-drill-result")
    assert "不要这样说" in result and said in result and "违规" in result
    assert "本题结束" in page.inner_text("#km-drill-opening")
    page.screenshot(path=str(ARTIFACTS / "app-drill.png"), full_page=True)
    page.get_by_role("tab", name="问答").click()


def test_a_ten_question_quiz_mixes_modules_keeps_score_and_ends_with_a_summary(page):
    import re

    page.get_by_role("tab", name="练习测验").click()
    page.click("#km-quiz-start")
    page.wait_for_function("document.querySelector('#km-quiz-question').innerText.includes('第 1/10')", timeout=60_000)
    modules, typed_with_enter = set(), False
    for n in range(1, 11):
        head = page.inner_text("#km-quiz-question").split("\n")[0]
        modules.update(re.findall(r"模块[一二三四五六七]", head))
        # The header names the kind; the matching answer box is the one shown.
        if "单选题" in head or "话术选择题" in head:  # one choice: radio buttons
            page.locator("#km-quiz-choice label").first.click()
            page.click("#km-quiz-check")
        elif "多选题" in head:  # several: tick boxes
            page.locator("#km-quiz-choices label").first.click()
            page.click("#km-quiz-check")
        else:
            page.fill("#km-quiz-answer input, #km-quiz-answer textarea", "不知道")
            page.keyboard.press("Enter")
            typed_with_enter = True
        page.wait_for_function(f"document.querySelector('#km-quiz-feedback').innerText.includes('已答 {n}/10')", timeout=30_000)
        page.click("#km-quiz-next")
        if n < 10:
            page.wait_for_function(
                f"document.querySelector('#km-quiz-question').innerText.includes('第 {n + 1}/10')", timeout=30_000
            )
    page.wait_for_function("document.querySelector('#km-quiz-question').innerText.includes('本次测验结束')", timeout=30_000)
    summary = page.inner_text("#km-quiz-question")
    assert len(modules) >= 2 and typed_with_enter
    assert "共 10 题，答了 10 题" in summary and "章节" in summary and "建议重读" in summary
    page.screenshot(path=str(ARTIFACTS / "app-quiz.png"), full_page=True)
    page.get_by_role("tab", name="问答").click()


def test_teacher_view_shows_its_table_and_chart_on_the_page(page):
    page.get_by_role("tab", name="教师看板").click()
    # Opening the tab runs the view; without the password it says so instead of staying blank.
    page.wait_for_function("document.querySelector('#km-teacher-summary').innerText.includes('密码')", timeout=30_000)
    page.fill("#km-teacher-password input", "teacher-test")
    page.press("#km-teacher-password input", "Enter")  # as on any log-in form (the button works too)
    page.wait_for_function("document.querySelector('#km-teacher-summary').innerText.includes('个小节')", timeout=60_000)
    page.wait_for_selector("#km-teacher-chart img", state="attached", timeout=30_000)
    page.locator("#km-teacher-chart img").scroll_into_view_if_needed()  # the image loads lazily, below the tables
    page.wait_for_selector("#km-teacher-chart img", timeout=30_000)
    # The drill and the quiz above left their traces: the weakest replies and wrong answers, lowest first.
    weakest = page.inner_text("#km-weakest")
    assert "情景演练" in weakest and "练习测验" in weakest and "加我微信吧" in weakest
    assert "先讲什么" in page.inner_text("#km-teacher-focus")
    page.screenshot(path=str(ARTIFACTS / "teacher-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "teacher-390.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_role("tab", name="问答").click()
