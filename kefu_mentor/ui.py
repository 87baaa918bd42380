"""The Gradio app: a cited chat for trainees, with filters, examples and index status.

`app.py` only launches; components are built in `MentorUI.build` and wired in `_wire`.
"""

from __future__ import annotations

import argparse
import hmac
import html
import logging
import os
import re
import threading
import time
from collections.abc import Callable

import gradio as gr

from .config import Settings
from .errors import BuildLockedError, CorpusError, MentorError, QuestionError
from .mentor import Mentor
from .qlog import QuestionLog
from .schema import SOURCE_LABELS, Answer

log = logging.getLogger(__name__)

SOURCE_CHOICES = [("教材原文", "textbook"), ("补充资料", "supplement"), ("话术模板", "template")]
EXAMPLES = {
    "学生": ["网店客服分为哪几类？", "泄露他人信息会被扣几分？", "简述网店客服与运营岗位的关系"],
    "新客服": ["顾客让我把别人的收货地址发给他，能发吗", "买家说图片和实物颜色不一样咋回", "有人发链接让我登录后台，点不点"],
    "教师": ["教材哪一节讲了钓鱼网站？", "模块一的素养目标有哪些", "任务二的任务实践要学生做什么"],
}
MAX_INPUT_CHARS = 20_000
CSS = """
.km-source {border:1px solid var(--border-color-primary); border-radius:8px; padding:6px 10px; margin:6px 0;}
.km-source summary {cursor:pointer; font-weight:600;}
.km-label {display:inline-block; padding:0 6px; border-radius:4px; font-size:12px; margin-right:4px; color:#fff;}
.km-textbook {background:#2563eb;} .km-supplement {background:#7c3aed;} .km-template {background:#059669;}
.km-text {white-space:pre-wrap; line-height:1.7; margin-top:6px;}
.km-text mark {background:#fde68a; padding:0 1px;}
.km-refusal {border-left:4px solid #f59e0b; padding:6px 10px;}
"""
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>$])")


def md_escape(text: str) -> str:
    """Show text literally inside the Markdown chat: no HTML, no Markdown syntax."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _marker_escape(line: str) -> str:
    """Escape a cited line but keep its trailing [n] marker readable."""
    match = re.search(r"\[(\d+)\]$", line)
    if not match:
        return md_escape(line)
    return md_escape(line[: match.start()]) + f"[{match.group(1)}]"


def scenario_chip(answer: Answer, scenario_min: float) -> str:
    """"场景：议价 · 把握 0.82" when the recogniser is at least `scenario_min` sure of the buyer's scenario
    (routing then applies to every class but `other`, which is shown so the learner sees why no template leads)."""
    scenario = answer.scenario
    if scenario is None or scenario.confidence < scenario_min:
        return ""
    return f"`场景：{scenario.label} · 把握 {scenario.confidence:.2f}`"


def answer_markdown(answer: Answer, scenario_min: float = 1.0) -> str:
    """The assistant's chat message: scenario chip, notices, the cited sentences, a source list."""
    chip = scenario_chip(answer, scenario_min)
    parts = ([chip] if chip else []) + [f"> {md_escape(n)}" for n in answer.notices]
    if answer.abstained:
        parts.append("**教材中没有找到相关内容**")
        body, _, _ = answer.answer.partition("\n如果你想了解")
        parts.append(md_escape(body))
        if answer.suggestions:
            parts.append("可以看看这些相近的章节：\n" + "\n".join(f"- {md_escape(s)}" for s in answer.suggestions))
        return "\n\n".join(parts)
    lines = answer.answer.split("\n")
    parts.append(md_escape(lines[0]))
    parts.append("\n".join(f"- {_marker_escape(line)}" for line in lines[1:]))
    sources = []
    for c in answer.citations[:3]:
        page = f" · 第 {c.page} 页" if c.page else ""
        sources.append(f"[{c.rank}] {c.label} · {md_escape(c.breadcrumb)}{page}")
    parts.append("**来源**（全文见右侧）：  \n" + "  \n".join(sources))
    return "\n\n".join(parts)


def sources_html(answer: Answer | None) -> str:
    """Every cited passage, expandable, with the quoted sentences highlighted. All text escaped."""
    if answer is None:
        return "<p>提问后，这里会列出每条引用的出处和原文。</p>"
    if answer.abstained:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in answer.suggestions)
        return (
            "<div class='km-refusal'><b>教材中没有找到相关内容</b>，所以这次没有引用任何段落。"
            + (f"<p>相近的章节：</p><ul>{items}</ul>" if items else "")
            + "</div>"
        )
    blocks = []
    for c in answer.citations:
        text = html.escape(c.text)
        for sentence in c.quoted:
            escaped = html.escape(sentence)
            text = text.replace(escaped, f"<mark>{escaped}</mark>", 1)
        page = f" · 第 {c.page} 页" if c.page else ""
        note = "（本工具编写的补充内容，不是教材原文）" if c.source != "textbook" else ""
        blocks.append(
            f"<details class='km-source' data-rank='{c.rank}'{' open' if c.rank == 1 else ''}>"
            f"<summary>[{c.rank}] <span class='km-label km-{html.escape(c.source)}'>{html.escape(c.label)}</span>"
            f"{html.escape(c.breadcrumb)}{page}</summary>"
            f"<div class='km-note'>{note}</div><div class='km-text'>{text}</div></details>"
        )
    return "".join(blocks)


class PasswordGate:
    """The one instructor password check (teacher view and rebuild), throttled.

    After `max_failures` wrong passwords within `window` seconds, every attempt is refused for
    `lockout` seconds with a message saying how long to wait: guessing at ~45 tries a second
    becomes 5 a minute.
    """

    def __init__(self, password: str | None, max_failures: int = 5, window: float = 60.0, lockout: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.password = password
        self.max_failures, self.window, self.lockout = max_failures, window, lockout
        self._clock = clock
        self._failures: list[float] = []
        self._locked_until = 0.0
        self._guard = threading.Lock()

    def denied(self, attempt: str | None) -> str | None:
        """None when `attempt` opens the gate (or no password is set), else the reason in Chinese."""
        if not self.password:
            return None
        if not attempt:
            # Not a guess (the teacher tab runs the view as it opens): never counted, never a lock.
            return "请输入教师密码。"
        with self._guard:
            now = self._clock()
            if now < self._locked_until:
                return f"密码错误次数太多，请 {int(self._locked_until - now) + 1} 秒后再试。"
            if hmac.compare_digest(str(attempt).encode(), self.password.encode()):
                self._failures.clear()
                return None
            self._failures = [t for t in self._failures if now - t < self.window] + [now]
            if len(self._failures) >= self.max_failures:
                self._locked_until = now + self.lockout
                self._failures.clear()
                return f"密码错误次数太多，请 {int(self.lockout)} 秒后再试。"
            return "教师密码不对。"


class MentorUI:
    """Owns the shared `Mentor` (loaded once per process) and builds the Blocks app."""

    def __init__(self, settings: Settings, instructor_password: str | None = None, network: bool = False,
                 question_log: QuestionLog | None = None):
        self.settings = settings
        self.question_log = question_log
        self.instructor_password = instructor_password
        self.gate = PasswordGate(instructor_password)
        self.network = network
        self._mentor: Mentor | None = None
        self._lock = threading.Lock()
        self.startup_notice = ""

    # -- the mentor ---------------------------------------------------------------------
    def mentor(self) -> Mentor:
        with self._lock:
            if self._mentor is None:
                notices = []
                self._mentor = Mentor.load(self.settings.index_dir, self.settings, rebuild=True, notify=notices.append)
                self.startup_notice = "；".join(notices)
            return self._mentor

    def ask(self, question: str, history: list[str], top_k: int, sources: list[str]) -> Answer:
        return self.mentor().ask(question, history=history, top_k=int(top_k), sources=tuple(sources))

    # -- event handlers (never raise: every failure becomes a kind message) --------------
    def respond(self, message: str, chat: list[dict] | None, history: list[str] | None,
                sources: list[str] | None, top_k: float) -> tuple:
        chat = list(chat or [])
        history = list(history or [])
        message = message or ""
        shown = message if len(message) <= 300 else message[:300] + f"……（共 {len(message)} 字）"
        try:
            if len(message) > MAX_INPUT_CHARS * 5:
                raise QuestionError(f"粘贴的内容太长（{len(message)} 个字符）。请只粘贴买家的问题或你想问的一两句话。")
            answer = self.ask(message, history, int(top_k or 5), list(sources or []))
        except QuestionError as exc:
            chat += [{"role": "user", "content": md_escape(shown) or "（空）"},
                     {"role": "assistant", "content": md_escape(str(exc))}]
            return chat, history, gr.update(), gr.update(value="", visible=False), ""
        except MentorError as exc:
            chat += [{"role": "user", "content": md_escape(shown)},
                     {"role": "assistant", "content": md_escape(str(exc)) + "\n\n请老师在“索引状态”里重建索引，或在命令行运行 kefu-mentor build。"}]
            return chat, history, gr.update(), gr.update(value="", visible=False), ""
        except Exception:  # the page must never show a traceback
            log.exception("answering failed")
            chat += [{"role": "user", "content": md_escape(shown)},
                     {"role": "assistant", "content": "抱歉，回答时出了点问题（已记录日志）。请换个说法再问一次；如果一直出现，请联系老师检查索引。"}]
            return chat, history, gr.update(), gr.update(value="", visible=False), ""
        chat += [{"role": "user", "content": md_escape(shown)}, {"role": "assistant", "content": answer_markdown(answer, self.settings.scenario_min)}]
        history.append(message)
        self._log(answer)
        reply = next((c.reply for c in answer.citations[:1] if c.reply), "")
        return chat, history[-6:], sources_html(answer), gr.update(value=reply, visible=bool(reply)), ""

    def _log(self, answer: Answer) -> None:
        if self.question_log is None:
            return
        try:
            self.question_log.record(answer)  # redacts before writing
        except Exception:  # a full disk must not cost the learner their answer
            log.exception("could not log the question")

    def api_ask(self, question: str, history: list[str] | None = None, top_k: int = 5,
                sources: list[str] | None = None) -> dict:
        """The same answer as the chat, as the CLI's JSON object (for gradio_client)."""
        # The same size limit as the chat: a 10 MB question must not tie up a worker.
        history = list(history or [])
        size = len(question) if isinstance(question, str) else 0
        size += sum(len(h) for h in history if isinstance(h, str))
        if size > MAX_INPUT_CHARS * 5:
            return {"question": None, "error": f"提交的内容太长（{size} 个字符，上限 {MAX_INPUT_CHARS * 5}）。请只提交买家的问题或你想问的一两句话。"}
        try:
            answer = self.ask(question, history, int(top_k), list(sources or ["textbook", "supplement", "template"]))
        except MentorError as exc:
            return {"question": question, "error": str(exc)}
        return answer.to_json()

    def status(self) -> str:
        try:
            mentor = self.mentor()
        except MentorError as exc:
            return f"**索引不可用**：{md_escape(str(exc))}"
        m = mentor.store.manifest
        sources = "，".join(f"{SOURCE_LABELS[s]} {n}" for s, n in m.get("sources", {}).items() if n)
        notice = f"\n\n{md_escape(self.startup_notice)}" if self.startup_notice else ""
        return (
            f"**索引状态**：{m['chunk_count']} 个文本块（{sources}）· 向量模型 `{m['embedder']['id']}`（{m['embedder']['dim']} 维）"
            f" · 语料指纹 `{m['corpus']['digest'][:10]}` · 建立于 {m['built_at']}{notice}"
        )

    def rebuild(self, password: str, progress: gr.Progress | None = None) -> str:
        if self.network and not self.instructor_password:
            return "应用在网络上提供服务，但没有设置教师密码，重建功能已关闭。请设置环境变量 KEFU_MENTOR_INSTRUCTOR_PASSWORD。"
        denied = self.gate.denied(password)
        if denied:
            return f"{denied}索引没有改动。"
        from .index import build_index

        def tick(stage: str, done: int, total: int) -> None:
            if progress is not None:
                progress((done, total), desc="正在向量化语料")

        try:
            build_index(self.settings, progress=tick)
            fresh = Mentor.load(self.settings.index_dir, self.settings)
        except (CorpusError, BuildLockedError) as exc:
            return f"重建失败，原来的索引仍在使用：{md_escape(str(exc))}"
        except MentorError as exc:
            return f"重建失败：{md_escape(str(exc))}"
        with self._lock:
            self._mentor = fresh
            self.startup_notice = ""
        return "重建完成。\n\n" + self.status()

    # -- layout -------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        with gr.Blocks(title="网店客服 AI 导师") as demo:
            gr.Markdown(
                "# 网店客服 AI 导师\n"
                "回答全部摘自《网店客服》（北京邮电大学出版社，2024）**教材原文**，或我们编写的**补充资料**与**话术模板**，"
                "每句话后面的 [n] 对应右侧的出处。没有相关内容时会直接说明，不会乱编。"
            )
            history = gr.State([])
            with gr.Tab("问答"), gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="对话", height=480, latex_delimiters=[], elem_id="km-chat")
                    with gr.Row():
                        question = gr.Textbox(placeholder="输入问题，例如：买家催发货怎么回复？", show_label=False,
                                              scale=5, lines=1, max_lines=6, elem_id="km-question")
                        send = gr.Button("发送", variant="primary", scale=1, elem_id="km-send")
                    reply = gr.Textbox(label="推荐回复（点右上角按钮一键复制）", visible=False, interactive=False,
                                       buttons=["copy"], elem_id="km-reply", lines=3)
                    new_chat = gr.Button("新对话", size="sm", elem_id="km-new")
                    example_buttons = []
                    with gr.Accordion("不知道问什么？点一个例子", open=True):
                        for persona, questions in EXAMPLES.items():
                            with gr.Row():
                                gr.Markdown(f"**{persona}**", elem_classes=["km-persona"])
                                for text in questions:
                                    example_buttons.append((gr.Button(text, size="sm"), text))
                with gr.Column(scale=2):
                    sources_view = gr.HTML(sources_html(None), label="出处", elem_id="km-sources")
                    with gr.Accordion("检索设置", open=False):
                        source_filter = gr.CheckboxGroup(SOURCE_CHOICES, value=[v for _, v in SOURCE_CHOICES],
                                                         label="检索哪些资料", elem_id="km-filter")
                        top_k = gr.Slider(1, 10, value=self.settings.top_k, step=1, label="引用段落数（top-k）")
                    with gr.Accordion("索引状态（教师）", open=False):
                        status = gr.Markdown(elem_id="km-status")
                        password = gr.Textbox(label="教师密码", type="password",
                                              visible=bool(self.instructor_password))
                        rebuild = gr.Button("重建索引（修改语料后使用）", size="sm")
                        rebuild_result = gr.Markdown()
            from .ui_modes import ModeTabs

            ModeTabs(self).build()
            self._wire(demo, chat, question, send, reply, new_chat, example_buttons, sources_view,
                       source_filter, top_k, history, status, password, rebuild, rebuild_result)
            gr.api(self.api_ask, api_name="ask")
        return demo

    def _wire(self, demo, chat, question, send, reply, new_chat, example_buttons, sources_view,
              source_filter, top_k, history, status, password, rebuild, rebuild_result) -> None:
        outputs = [chat, history, sources_view, reply, question]
        for trigger in (question.submit, send.click):
            trigger(self.respond, [question, chat, history, source_filter, top_k], outputs, api_visibility="private")
        for button, text in example_buttons:
            button.click(_fixed(self.respond, text), [chat, history, source_filter, top_k], outputs,
                         api_visibility="private")
        new_chat.click(lambda: ([], [], sources_html(None), gr.update(value="", visible=False), ""), None, outputs,
                       api_visibility="private")
        demo.load(self.status, None, status, api_visibility="private")
        rebuild.click(self.rebuild, [password], rebuild_result, api_visibility="private").then(
            self.status, None, status, api_visibility="private")


def _fixed(respond: Callable, text: str) -> Callable:
    def ask_example(chat, history, sources, top_k):
        return respond(text, chat, history, sources, top_k)

    return ask_example


def launch(argv: list[str] | None = None) -> None:
    """Start the app on 127.0.0.1 (unless told otherwise), building the index if needed."""
    parser = argparse.ArgumentParser(description="网店客服 AI 导师（Gradio 应用）")
    parser.add_argument("--host", default=os.environ.get("KEFU_MENTOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KEFU_MENTOR_PORT", "7860")))
    parser.add_argument("--index", default=None)
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--data", default=None, help="本地数据目录（提问日志），默认 .data/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings().with_(index_dir=args.index, corpus_dir=args.corpus, data_dir=args.data)
    network = args.host not in ("127.0.0.1", "localhost", "::1")
    log_path = settings.data_dir / "questions.sqlite"
    ui = MentorUI(settings, os.environ.get("KEFU_MENTOR_INSTRUCTOR_PASSWORD") or None, network, QuestionLog(log_path))
    print("正在加载索引（缺失或过期时会自动重建）……", flush=True)
    try:
        ui.mentor()
    except MentorError as exc:
        print(exc, flush=True)
    if ui.startup_notice:
        print(ui.startup_notice, flush=True)
    demo = ui.build()
    # Two cores: two answers at a time keeps latency flat; the rest wait in the queue.
    demo.queue(default_concurrency_limit=2, max_size=64)
    demo.launch(server_name=args.host, server_port=args.port, css=CSS, show_error=False,
                footer_links=["api"])
