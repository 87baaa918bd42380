"""An instructor adds material in the browser, a learner asks about it, the instructor removes it.

Runs its own app on a copy of the corpus and index (an upload writes into `corpus/teacher/`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kefu_mentor import Settings

from .conftest import REAL_CORPUS, ROOT, serve_app
from .test_uploads import _pdf

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "teacher-test"
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def school(tmp_path_factory, real_settings) -> Path:
    base = tmp_path_factory.mktemp("school")
    shutil.copytree(REAL_CORPUS, base / "corpus")
    shutil.copytree(real_settings.index_dir, base / "index")
    return base


@pytest.fixture(scope="module")
def school_url(school, real_settings):
    settings = Settings(corpus_dir=school / "corpus", index_dir=school / "index", cache_dir=real_settings.cache_dir)
    yield from serve_app(settings)  # its data (question log, exports) in school / "data"


def _chinese_pdf(path: Path, text: str) -> None:
    """A one-page PDF with Chinese text and a text layer (matplotlib embeds the CJK font as TrueType)."""
    import matplotlib

    from kefu_mentor.modes.plotting import pyplot

    plt = pyplot()
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        figure = plt.figure(figsize=(8.27, 11.69))
        figure.text(0.1, 0.9, text, fontsize=12)
        figure.savefig(path)
        plt.close(figure)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    import docx

    folder = tmp_path_factory.mktemp("uploads")
    document = docx.Document()
    document.add_heading("交接班安排", level=1)
    document.add_paragraph("本店客服每天十七点三十分交接班，交接表放在共享盘的“售后交接”文件夹。")
    document.save(str(folder / "排班制度.docx"))
    _chinese_pdf(folder / "rules.pdf", "仓库发货规定：本店金华仓库每天十六点前发出当日付款的订单。")
    (folder / "scan.pdf").write_bytes(_pdf([]))
    return {"docx": folder / "排班制度.docx", "pdf": folder / "rules.pdf", "scan": folder / "scan.pdf"}


@pytest.fixture(scope="module")
def page(school_url):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "make test installs Debian's chromium; run it through make test"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, locale="zh-CN")
        page.goto(school_url)
        page.wait_for_selector("#km-question textarea", timeout=60_000)
        yield page
        browser.close()


def _teacher_tab(page) -> None:
    page.get_by_role("tab", name="教师看板").click()
    # Opening the tab runs the view once with the box as it is (empty after a page load: it then
    # says 请输入教师密码); type only once that reply is in, so it cannot land after a refresh.
    page.wait_for_function("() => document.querySelector('#km-teacher-summary').innerText.trim().length > 0", timeout=60_000)
    _enter_password(page)
    accordion = page.get_by_text("添加教师资料（学校讲义", exact=False)
    if not page.locator("#km-upload-preview").is_visible():
        accordion.click()
    page.wait_for_selector("#km-upload-preview", state="visible")


def _enter_password(page) -> None:
    """Type the password and see that it stayed typed.

    Right after a page load the tab's content is mounted on first opening, and on a busy machine
    a value typed in that moment can land in an input that is then replaced (CI once sent three
    refreshes with an empty password). So type it again until the box holds it.
    """
    box = "#km-teacher-password input"
    for _ in range(5):
        page.fill(box, PASSWORD)
        page.wait_for_timeout(300)
        if page.input_value(box) == PASSWORD:
            return
    raise AssertionError("the password box does not keep what is typed into it")


def _refresh_until(page, condition: str, attempts: int = 3) -> None:
    """Refresh the teacher view until `condition` (a JS expression) holds.

    Opening the tab runs the view once before the password is typed (it then says 请输入教师密码);
    on a busy machine that reply can land after a refresh, so refresh again, password re-typed.
    """
    for _ in range(attempts):
        _enter_password(page)
        page.click("#km-teacher-refresh")
        try:
            page.wait_for_function(f"() => {condition}", timeout=40_000)
            return
        except Exception:
            continue
    # Say what the page showed, an error toast included, so a failure on CI can be told apart
    # from a lost password (the summary then says 请输入教师密码) and from a view that raised.
    summary = page.inner_text("#km-teacher-summary")
    toasts = page.locator(".toast-body").all_inner_texts()
    raise AssertionError(f"after {attempts} refreshes the view does not show {condition}; summary: {summary}; toasts: {toasts}")


def _result(page, *words: str) -> str:
    """The upload result once it shows one of `words` (Gradio shows a timer while it works)."""
    # Done when one of `words` shows and Gradio's progress line ("… steps | 3.6s …") has gone.
    page.wait_for_function(
        "(ws) => { const e = document.querySelector('#km-upload-result');"
        " const t = e.innerText; return ws.some(w => t.includes(w)) && !/steps|%/.test(t)"
        " && !e.querySelector('.progress-text, .eta-bar, .progress-level'); }",
        arg=list(words),
        timeout=120_000,
    )
    return page.inner_text("#km-upload-result")


def _upload(page, path: Path, section_filter: str | None) -> str:
    clear = page.locator("#km-upload-file button[aria-label='Clear']")
    if clear.count():  # a file left from a failed attempt
        clear.first.click()
    page.set_input_files("#km-upload-file input[type=file]", str(path))
    page.wait_for_timeout(1000)  # Gradio uploads the file before the buttons can use it
    if section_filter:
        page.click("#km-upload-under input")
        page.fill("#km-upload-under input", section_filter)
        page.wait_for_timeout(300)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
    page.click("#km-upload-preview")
    return _result(page, "将作为", "没有", "请", "不支持")


def _ask(page, question: str) -> str:
    page.get_by_role("tab", name="问答").click()
    page.fill("#km-question textarea", question)
    before = page.locator("#km-chat .message").count()
    page.click("#km-send")
    page.wait_for_function(f"document.querySelectorAll('#km-chat .message').length >= {before + 2}", timeout=60_000)
    page.wait_for_timeout(1500)
    return page.inner_text("#km-sources")


def test_uploads_are_cited_as_teacher_material_and_removed(page, files):
    _teacher_tab(page)
    previewed = _upload(page, files["docx"], "三、客服团队日常管理")
    assert "将作为" in previewed and "排班制度.docx" in previewed, previewed
    page.click("#km-upload-add")
    assert "已添加" in _result(page, "已添加", "没有添加")
    (ROOT / "artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "artifacts" / "teacher-upload.png"), full_page=True)

    previewed = _upload(page, files["pdf"], "四、物流信息")
    assert "第 1 页" in previewed and "四、物流信息" in previewed, previewed
    page.click("#km-upload-add")
    assert "已添加“rules.pdf" in _result(page, "已添加“rules.pdf", "没有添加")
    sources = _ask(page, "我们客服几点交接班？交接表放在哪？")
    assert "教师资料" in sources and "排班制度.docx" in sources and "三、客服团队日常管理" in sources, sources
    assert "教材原文" not in sources.split("\n")[0]  # the first passage is the instructor's, labelled so
    sources = _ask(page, "按店铺规定，金华仓库每天几点前发出当日付款的订单？")  # a learner asking, not a buyer
    assert "rules.pdf" in sources and "四、物流信息" in sources and "第 1 页" in sources, sources

    _teacher_tab(page)
    page.click("#km-upload-remove input")
    page.fill("#km-upload-remove input", "排班制度.md")
    page.keyboard.press("Enter")
    page.click("#km-upload-remove-button")
    assert "已删除" in _result(page, "已删除", "没有删除")
    sources = _ask(page, "我们客服几点交接班？交接表放在哪？")
    assert "排班制度.docx" not in sources

    _teacher_tab(page)
    message = _upload(page, files["scan"], None)
    assert "没有文字层" in message, message


def test_a_thumbs_down_with_a_reason_reaches_the_teacher_view_and_the_csv(page, school):
    _ask(page, "泄露他人信息会被扣几分？")
    page.fill("#km-reason textarea", "没讲清情节严重时怎么扣分")
    # Gradio labels it 踩 in a Chinese browser (Dislike in an English one).
    page.locator("#km-chat button[aria-label='踩'], #km-chat button[aria-label*='islike' i]").last.click()
    page.wait_for_function("() => document.querySelector('#km-thanks').innerText.includes('已记录你的')", timeout=30_000)
    assert "👎" in page.inner_text("#km-thanks")
    _teacher_tab(page)
    _refresh_until(page, "document.querySelector('#km-disliked').innerText.includes('没讲清情节严重时怎么扣分')")
    assert "泄露他人信息会被扣几分" in page.inner_text("#km-disliked")
    exported = (school / "data" / "exports" / "feedback.csv").read_text(encoding="utf-8-sig")
    assert "没讲清情节严重时怎么扣分" in exported and "👎" in exported


SECRETS = ["13812345678", "文三路90号", "张伟", "6222021234567890128", "13987654321", "wxid_k8m2p4q9"]


def test_personal_data_never_reaches_the_stored_log(page, school, school_url):
    """A learner pastes a chat with a buyer's data, in a class, and rates the answer with more data in the reason."""
    import sqlite3

    page.goto(school_url + "?class=2班")
    page.wait_for_function("() => document.querySelector('#km-class input, #km-class textarea')?.value === '2班'", timeout=60_000)
    _ask(page, "买家张伟说电话13812345678打不通，送到杭州市西湖区文三路90号，退款打到6222021234567890128，这种怎么回复")
    page.fill("#km-reason textarea", "买家手机13987654321 微信 wxid_k8m2p4q9 也联系不上")
    page.locator("#km-chat button[aria-label='踩'], #km-chat button[aria-label*='islike' i]").last.click()
    page.wait_for_function("() => document.querySelector('#km-thanks').innerText.includes('已记录你的')", timeout=30_000)

    # What is on disk, read directly: the database and its write-ahead log.
    folder = school / "data"
    raw = b"".join(p.read_bytes() for p in folder.glob("questions.sqlite*"))
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
    with sqlite3.connect(folder / "questions.sqlite") as db:
        question, class_code = db.execute("SELECT question, class_code FROM questions ORDER BY id DESC LIMIT 1").fetchone()
        reason = db.execute("SELECT reason FROM feedback ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert class_code == "2班"
    for label in ("[姓名]", "[手机号]", "[地址]", "[银行卡号]"):
        assert label in question, question
    assert "[手机号]" in reason and "[微信号]" in reason

    # The teacher sees the labels (what kind of data it was), never the data, and can pick the class.
    _teacher_tab(page)
    _refresh_until(page, "document.querySelector('#km-disliked').innerText.includes('[手机号]')")
    shown = page.inner_text("#km-disliked") + page.inner_text("#km-teacher-summary")
    assert "[银行卡号]" in shown and not any(secret in shown for secret in SECRETS)
    page.click("#km-teacher-class input")
    page.wait_for_selector("ul[role='listbox'] >> text=2班", timeout=30_000)
    page.keyboard.press("Escape")
    for export in (folder / "exports").glob("*.csv"):
        text = export.read_text(encoding="utf-8-sig")
        assert not any(secret in text for secret in SECRETS), export.name
