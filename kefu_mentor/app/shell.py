"""The app's shell: builds the tabs around one `AppContext` and serves them. Nothing imports it
but `app.py`."""

from __future__ import annotations

import argparse
import logging
import os

import gradio as gr

from ..config import Settings
from ..modes.qlog import LogConfigError, QuestionLog
from .chat_tab import ChatTab
from .context import AppContext
from .drill_tab import DrillTab
from .quiz_tab import QuizTab
from .render import CSS, JS
from .teacher_tab import TeacherTab


def build_app(ctx: AppContext) -> gr.Blocks:
    with gr.Blocks(title="网店客服 AI 导师") as demo:
        gr.Markdown(
            "# 网店客服 AI 导师\n"
            "回答全部摘自《网店客服》（北京邮电大学出版社，2024）**教材原文**，或我们编写的**补充资料**与**话术模板**，"
            "每句话后面的 [n] 是它的出处：点一下就在回答下面展开原文（宽屏时右侧也列出全部出处）。没有相关内容时会直接说明，不会乱编。"
        )
        chat = ChatTab(ctx)
        chat.build(demo)
        DrillTab(ctx).build(chat.class_code)
        QuizTab(ctx).build(chat.class_code)
        TeacherTab(ctx).build()
        # After the tabs: an API endpoint between them would split the tab bar in two.
        gr.api(chat.api_ask, api_name="ask")
    return demo


def launch(argv: list[str] | None = None) -> None:
    """Start the app on 127.0.0.1 (unless told otherwise), building the index if needed."""
    parser = argparse.ArgumentParser(description="网店客服 AI 导师（Gradio 应用）")
    parser.add_argument("--host", default=os.environ.get("KEFU_MENTOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KEFU_MENTOR_PORT", "7860")))
    parser.add_argument("--index", default=None)
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--data", default=None, help="本地数据目录（提问日志），默认 .data/")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("KEFU_MENTOR_DATABASE_URL") or None,
        help="提问日志数据库：不设置时用本机 SQLite（.data/questions.sqlite）；多副本部署用 postgresql://用户:密码@主机/库名",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings().with_(index_dir=args.index, corpus_dir=args.corpus, data_dir=args.data, database_url=args.database_url)
    network = args.host not in ("127.0.0.1", "localhost", "::1")
    question_log, log_problem = None, None
    try:
        question_log = QuestionLog.open(settings.database_url, settings.data_dir)
    except (LogConfigError, OSError) as exc:  # the app still answers; the teacher view says why nothing is logged
        log_problem = f"提问日志不可用，本次运行不记录提问：{exc}"
        print(log_problem, flush=True)
    if question_log is not None and question_log.problem:
        print(question_log.problem, flush=True)
    ctx = AppContext(settings, os.environ.get("KEFU_MENTOR_INSTRUCTOR_PASSWORD") or None, network, question_log, log_problem)
    # The page is served at once; the index loads (or, when stale, rebuilds with a progress bar
    # here and a count on the page) in the background.
    print("正在加载索引（缺失或过期时会自动重建，并显示进度）；页面已可打开……", flush=True)
    ctx.load_in_background()
    ctx.watch(settings.recheck_interval)
    demo = build_app(ctx)
    # Two cores: two answers at a time keeps latency flat; the rest wait in the queue.
    demo.queue(default_concurrency_limit=2, max_size=64)
    demo.launch(server_name=args.host, server_port=args.port, css=CSS, js=JS, show_error=False, footer_links=["api"])
