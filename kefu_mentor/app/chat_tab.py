"""The 问答 tab: a cited chat with filters, examples, index status and rebuild; and the /ask API."""

from __future__ import annotations

import logging
from collections.abc import Callable

import gradio as gr

from ..errors import MentorError, QuestionError
from ..modes.qlog import clean_class
from ..schema import SOURCE_LABELS, SOURCE_TYPES, Answer
from .context import AppContext, page_progress, usable_class
from .render import answer_markdown, md_escape, sources_html

log = logging.getLogger(__name__)

SOURCE_CHOICES = [(SOURCE_LABELS[s], s) for s in SOURCE_TYPES]
EXAMPLES = {
    "学生": ["网店客服分为哪几类？", "泄露他人信息会被扣几分？", "简述网店客服与运营岗位的关系"],
    "新客服": ["顾客让我把别人的收货地址发给他，能发吗", "买家说图片和实物颜色不一样咋回", "有人发链接让我登录后台，点不点"],
    "教师": ["教材哪一节讲了钓鱼网站？", "模块一的素养目标有哪些", "任务二的任务实践要学生做什么"],
}
MAX_INPUT_CHARS = 20_000


class ChatTab:
    """The chat's handlers (they never raise: every failure becomes a kind message) and layout."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    def ask(self, question: str, history: list[str], top_k: int, sources: list[str]) -> Answer:
        return self.ctx.mentor().ask(question, history=history, top_k=int(top_k), sources=tuple(sources))

    def respond(
        self,
        message: str,
        chat: list[dict] | None,
        history: list[str] | None,
        sources: list[str] | None,
        top_k: float,
        turns: dict | None = None,
        class_code: str | None = "",
    ) -> tuple:
        """(chat, history, sources panel, reply box, question box, turns): `turns` maps an answer's
        message index to what a 👍/👎 on it records."""
        chat = list(chat or [])
        history = list(history or [])
        turns = dict(turns or {})
        message = message or ""
        shown = message if len(message) <= 300 else message[:300] + f"……（共 {len(message)} 字）"
        unchanged = (gr.update(), gr.update(value="", visible=False), "", turns, gr.update(visible=False))
        busy = self.ctx.busy(wait=self.ctx.settings.load_wait)
        if busy:  # the page is served while the index loads; the question stays in the box
            chat += [{"role": "user", "content": md_escape(shown) or "（空）"}, {"role": "assistant", "content": md_escape(busy)}]
            return chat, history, gr.update(), gr.update(value="", visible=False), message, turns, gr.update(visible=False)
        try:
            if len(message) > MAX_INPUT_CHARS * 5:
                raise QuestionError(f"粘贴的内容太长（{len(message)} 个字符）。请只粘贴买家的问题或你想问的一两句话。")
            answer = self.ask(message, history, int(top_k or 5), list(sources or []))
        except QuestionError as exc:
            chat += [
                {"role": "user", "content": md_escape(shown) or "（空）"},
                {"role": "assistant", "content": md_escape(str(exc))},
            ]
            return chat, history, *unchanged
        except MentorError as exc:
            chat += [
                {"role": "user", "content": md_escape(shown)},
                {
                    "role": "assistant",
                    "content": md_escape(str(exc)) + "\n\n请老师在“索引状态”里重建索引，或在命令行运行 kefu-mentor build。",
                },
            ]
            return chat, history, *unchanged
        except Exception:  # the page must never show a traceback
            log.exception("answering failed")
            chat += [
                {"role": "user", "content": md_escape(shown)},
                {
                    "role": "assistant",
                    "content": "抱歉，回答时出了点问题（已记录日志）。请换个说法再问一次；如果一直出现，请联系老师检查索引。",
                },
            ]
            return chat, history, *unchanged
        chat += [
            {"role": "user", "content": md_escape(shown)},
            {"role": "assistant", "content": self._shown(answer)},
        ]
        history.append(message)
        self.ctx.record(answer, usable_class(class_code))
        turns[str(len(chat) - 1)] = _turn(message, answer)
        reply = next((c.reply for c in answer.citations[:1] if c.reply), "")
        return (
            chat,
            history[-6:],
            sources_html(answer),
            gr.update(value=reply, visible=bool(reply)),
            "",
            turns,
            gr.update(visible=bool(answer.follow_up_of)),
        )

    def _shown(self, answer: Answer, alone: bool = False) -> str:
        """The answer as the chat shows it, saying when the previous question was read with it."""
        text = answer_markdown(answer)
        if answer.follow_up_of:
            earlier = answer.follow_up_of if len(answer.follow_up_of) <= 40 else answer.follow_up_of[:40] + "……"
            text = f"> 已结合上一问：“{md_escape(earlier)}”。不是追问？点下面的“单独回答”。\n\n" + text
        elif alone:
            text = "> 单独回答（没有结合上一问）。\n\n" + text
        return text

    def alone(self, chat, history, sources, top_k, turns, class_code=""):
        """Answer the last message again on its own, without the previous question."""
        chat, history, turns = list(chat or []), list(history or []), dict(turns or {})
        if len(chat) < 2 or not history:
            return chat, history, gr.update(), gr.update(), "", turns, gr.update(visible=False)
        try:
            answer = self.ask(history[-1], [], int(top_k or 5), list(sources or []))
        except MentorError as exc:
            chat[-1] = {"role": "assistant", "content": md_escape(str(exc))}
            return chat, history, gr.update(), gr.update(value="", visible=False), "", turns, gr.update(visible=False)
        chat[-1] = {"role": "assistant", "content": self._shown(answer, alone=True)}
        turns[str(len(chat) - 1)] = _turn(history[-1], answer)
        reply = next((c.reply for c in answer.citations[:1] if c.reply), "")
        # Already logged when first asked: the same question again is not a second entry.
        return (
            chat,
            history,
            sources_html(answer),
            gr.update(value=reply, visible=bool(reply)),
            "",
            turns,
            gr.update(visible=False),
        )

    @staticmethod
    def save(chat, history, turns) -> dict:
        """What the browser keeps across a reload (its own storage, never the server)."""
        return {"chat": list(chat or [])[-40:], "history": list(history or [])[-6:], "turns": dict(turns or {})}

    @staticmethod
    def restore(saved: dict | None):
        """The conversation the browser kept, or an empty one."""
        saved = saved if isinstance(saved, dict) else {}
        chat = saved.get("chat") if isinstance(saved.get("chat"), list) else []
        history = saved.get("history") if isinstance(saved.get("history"), list) else []
        turns = saved.get("turns") if isinstance(saved.get("turns"), dict) else {}
        last = chat[-1].get("content", "") if chat and isinstance(chat[-1], dict) else ""
        # Gradio may hand messages back as a list of parts ({"type": "text", "text": …}).
        if isinstance(last, list):
            last = " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in last)
        return chat, history, turns, gr.update(visible="已结合上一问" in str(last))

    def feedback(self, like: gr.LikeData, turns: dict | None, reason: str | None, class_code: str | None = "") -> str:
        """Record a 👍/👎 on an answer (with the optional reason in the box); say it was recorded."""
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        turn = (turns or {}).get(str(index))
        if turn is None or like.liked is None or self.ctx.question_log is None:
            return ""
        try:
            self.ctx.question_log.record_feedback(
                bool(like.liked),
                turn["question"],
                turn["answer"],
                (reason or "")[:500],
                turn["toc_id"],
                turn["title"],
                usable_class(class_code),
            )
        except Exception:  # a full disk must not break the chat
            log.exception("could not record feedback")
            return "反馈没能保存（已记录日志），请稍后再试。"
        if like.liked:
            return "已记录你的 👍，谢谢！"
        if (reason or "").strip():
            return "已记录你的 👎 和原因，老师会在教师看板里看到，谢谢！"
        return "已记录你的 👎，老师会在教师看板里看到。下次可以先在上面的框里写一句原因，再点 👎。"

    def api_ask(
        self,
        question: str,
        history: list[str] | None = None,
        top_k: int = 5,
        sources: list[str] | None = None,
        class_code: str = "",
    ) -> dict:
        """The same answer as the chat, as the CLI's JSON object (for gradio_client); logged like the chat's."""
        # The same size limit as the chat: a 10 MB question must not tie up a worker.
        history = list(history or [])
        size = len(question) if isinstance(question, str) else 0
        size += sum(len(h) for h in history if isinstance(h, str))
        if size > MAX_INPUT_CHARS * 5:
            return {
                "question": None,
                "error": f"提交的内容太长（{size} 个字符，上限 {MAX_INPUT_CHARS * 5}）。请只提交买家的问题或你想问的一两句话。",
            }
        try:
            class_code = clean_class(class_code if isinstance(class_code, str) else "")
        except ValueError as exc:
            return {"question": question, "error": str(exc)}
        busy = self.ctx.busy(wait=self.ctx.settings.load_wait)
        if busy:
            return {"question": question, "error": busy}
        try:
            answer = self.ask(question, history, int(top_k), list(sources or SOURCE_TYPES))
        except MentorError as exc:
            return {"question": question, "error": str(exc)}
        self.ctx.record(answer, class_code)
        return answer.to_json()

    @staticmethod
    def check_class(code: str | None) -> str:
        """What the page says under the class-code box: nothing when it can be used."""
        try:
            code = clean_class(code)
        except ValueError as exc:
            return f"{exc}这次的提问仍会回答，但不计入班级。"
        return f"提问会计入班级 **{md_escape(code)}**。" if code else ""

    @staticmethod
    def class_from_url(request: gr.Request) -> str:
        """`?class=…` in the page's address fills the class-code box."""
        params = getattr(request, "query_params", None) or {}
        return str(params.get("class", "") or "")[:64]

    def rebuild(self, password: str, progress=gr.Progress()) -> str:  # noqa: B008 - Gradio injects its tracker
        return self.ctx.rebuild(password, page_progress(progress))

    def build(self, demo: gr.Blocks) -> None:
        history = gr.State([])
        turns = gr.State({})  # what a 👍/👎 on each answer records
        with gr.Tab("问答"), gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="对话", height=480, latex_delimiters=[], elem_id="km-chat")
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="输入问题，例如：买家催发货怎么回复？",
                        show_label=False,
                        scale=5,
                        lines=1,
                        max_lines=6,
                        elem_id="km-question",
                    )
                    send = gr.Button("发送", variant="primary", scale=1, elem_id="km-send")
                reply = gr.Textbox(
                    label="推荐回复（点右上角按钮一键复制）",
                    visible=False,
                    interactive=False,
                    buttons=["copy"],
                    elem_id="km-reply",
                    lines=3,
                )
                with gr.Row():
                    class_code = gr.Textbox(
                        label="班级代码（老师给的，可不填；也可以在网址后加 ?class=代码）",
                        scale=2,
                        max_lines=1,
                        elem_id="km-class",
                    )
                    class_note = gr.Markdown(elem_id="km-class-note")
                # The drill and quiz tabs log under the same class code.
                self.class_code = class_code
                with gr.Row():
                    reason = gr.Textbox(
                        placeholder="觉得回答不对或没用？可以先在这里写一句原因，再点回答下方的 👎",
                        show_label=False,
                        scale=4,
                        elem_id="km-reason",
                    )
                    thanks = gr.Markdown(elem_id="km-thanks")
                with gr.Row():
                    alone = gr.Button("单独回答（不结合上一问）", size="sm", visible=False, elem_id="km-alone")
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
                    source_filter = gr.CheckboxGroup(
                        SOURCE_CHOICES, value=list(SOURCE_TYPES), label="检索哪些资料", elem_id="km-filter"
                    )
                    top_k = gr.Slider(1, 10, value=self.ctx.settings.top_k, step=1, label="引用段落数（top-k）")
                with gr.Accordion("索引状态（教师）", open=False):
                    status = gr.Markdown(elem_id="km-status")
                    password = gr.Textbox(label="教师密码", type="password", visible=bool(self.ctx.instructor_password))
                    rebuild = gr.Button("重建索引（修改语料后使用）", size="sm")
                    rebuild_result = gr.Markdown()
                    # While the index loads in the background, the status refreshes itself until it is
                    # ready (created inside the tab: a component between tabs would split the tab bar).
                    timer = gr.Timer(2.0)

        outputs = [chat, history, sources_view, reply, question, turns, alone]
        # The conversation survives a reload: the browser keeps it (localStorage), the server does not.
        saved = gr.BrowserState({"chat": [], "history": [], "turns": {}}, storage_key="kefu-mentor-conversation")
        keep = {"fn": self.save, "inputs": [chat, history, turns], "outputs": saved, "api_visibility": "private"}
        for trigger in (question.submit, send.click):
            trigger(
                self.respond,
                [question, chat, history, source_filter, top_k, turns, class_code],
                outputs,
                api_visibility="private",
            ).then(**keep)
        alone.click(self.alone, [chat, history, source_filter, top_k, turns, class_code], outputs, api_visibility="private").then(
            **keep
        )
        demo.load(self.restore, [saved], [chat, history, turns, alone], api_visibility="private")
        chat.like(self.feedback, [turns, reason, class_code], thanks, api_visibility="private")
        class_code.change(self.check_class, [class_code], class_note, api_visibility="private")
        demo.load(self.class_from_url, None, class_code, api_visibility="private")
        # Gradio's own 清空对话 button empties the chat; the conversation state must go with it,
        # or the next question would be read as a follow-up of the cleared one.
        chat.clear(lambda: ([], {}, sources_html(None)), None, [history, turns, sources_view], api_visibility="private").then(
            **keep
        )
        for button, text in example_buttons:
            button.click(
                _fixed(self.respond, text),
                [chat, history, source_filter, top_k, turns, class_code],
                outputs,
                api_visibility="private",
            ).then(**keep)
        new_chat.click(
            lambda: ([], [], sources_html(None), gr.update(value="", visible=False), "", {}, gr.update(visible=False)),
            None,
            outputs,
            api_visibility="private",
        ).then(**keep)
        timer.tick(self._status_tick, None, [status, timer], api_visibility="private")
        demo.load(self.ctx.status, None, status, api_visibility="private")
        rebuild.click(self.rebuild, [password], rebuild_result, api_visibility="private").then(
            self.ctx.status, None, status, api_visibility="private"
        )

    def _status_tick(self):
        busy = self.ctx.busy()
        return self.ctx.status(), gr.Timer(active=bool(busy))


def _turn(question: str, answer: Answer) -> dict:
    """What a 👍/👎 on this answer records."""
    top = answer.citations[0] if answer.citations else None
    return {
        "question": question[:2000],
        "answer": answer.answer[:500],
        "toc_id": top.toc_id if top else None,
        "title": top.title if top else None,
    }


def _fixed(respond: Callable, text: str) -> Callable:
    def ask_example(chat, history, sources, top_k, turns, class_code):
        return respond(text, chat, history, sources, top_k, turns, class_code)

    return ask_example
