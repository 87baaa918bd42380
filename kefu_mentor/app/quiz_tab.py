"""The 练习测验 tab: the book's exercises and generated questions, each answer with its passage."""

from __future__ import annotations

import gradio as gr

from ..errors import MentorError
from ..modes.quiz import QuizQuestion, build_quiz, check
from .context import AppContext
from .render import md_escape, question_markdown, quiz_feedback_markdown


class QuizTab:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    def start(self, module: str):
        busy = self.ctx.busy(wait=self.ctx.settings.load_wait)
        if busy:
            return [], 0, md_escape(busy), ""
        try:
            questions = build_quiz(self.ctx.settings.corpus_dir, self.ctx.mentor().chunks, module or "m1")
        except MentorError as exc:
            return [], 0, md_escape(str(exc)), ""
        if not questions:
            return [], 0, "这个模块还没有题目。", ""
        return questions, 0, question_markdown(questions[0], 1, len(questions)), ""

    def answer(self, response: str, questions: list[QuizQuestion], position: int):
        if not questions or position >= len(questions):
            return "请先点“出题”。"
        return quiz_feedback_markdown(check(questions[position], (response or "")[:2000]))

    def next(self, questions: list[QuizQuestion], position: int):
        if not questions:
            return 0, "请先点“出题”。", ""
        position = min(position + 1, len(questions) - 1)
        return position, question_markdown(questions[position], position + 1, len(questions)), ""

    def build(self) -> None:
        with gr.Tab("练习测验"):
            gr.Markdown("题目来自教材各模块的“思考与练习”，以及根据教材原文和话术模板生成的练习。每题答案都注明出处和页码。")
            with gr.Row():
                module = gr.Dropdown([("模块一 网店客服岗前准备", "m1")], value="m1", label="模块", scale=2)
                start = gr.Button("出题", variant="primary", scale=1, elem_id="km-quiz-start")
            ids = gr.State([])  # this session's questions
            position = gr.State(0)
            question = gr.Markdown(elem_id="km-quiz-question")
            answer = gr.Textbox(label="你的答案", elem_id="km-quiz-answer")
            with gr.Row():
                check_button = gr.Button("提交答案", elem_id="km-quiz-check")
                next_q = gr.Button("下一题", elem_id="km-quiz-next")
            feedback = gr.Markdown(elem_id="km-quiz-feedback")
            start.click(self.start, [module], [ids, position, question, feedback], api_visibility="private")
            check_button.click(self.answer, [answer, ids, position], [feedback], api_visibility="private")
            next_q.click(self.next, [ids, position], [position, question, feedback], api_visibility="private").then(
                lambda: "", None, answer, api_visibility="private"
            )
