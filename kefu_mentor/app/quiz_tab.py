"""The 练习测验 tab: the book's exercises and generated questions, each answer with its passage."""

from __future__ import annotations

import random

import gradio as gr

from ..errors import MentorError
from ..modes.quiz import QuizQuestion, build_quiz, check
from .context import AppContext
from .render import md_escape, question_markdown, quiz_feedback_markdown, quiz_summary_markdown


class QuizTab:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    def start(self, module: str, seed: int | None = None):
        """(questions, position, question, feedback, scores): a new session, in its own order."""
        busy = self.ctx.busy(wait=self.ctx.settings.load_wait)
        if busy:
            return [], 0, md_escape(busy), "", {}
        # Each session draws its own generated questions and its own order.
        seed = random.randrange(1 << 30) if seed is None else seed
        try:
            questions = build_quiz(self.ctx.settings.corpus_dir, self.ctx.mentor().chunks, module or "m1", seed=seed)
        except MentorError as exc:
            return [], 0, md_escape(str(exc)), "", {}
        if not questions:
            return [], 0, "这个模块还没有题目。", "", {}
        random.Random(seed).shuffle(questions)
        return questions, 0, question_markdown(questions[0], 1, len(questions)), "", {}

    def answer(self, response: str, questions: list[QuizQuestion], position: int, scores: dict | None = None):
        """(feedback, scores): the verdict on this answer and the running score."""
        scores = dict(scores or {})
        if not questions or position >= len(questions):
            return "请先点“出题”。", scores
        if not (response or "").strip():
            return "请先写下你的答案，再提交（按回车也可以）。", scores
        result = check(questions[position], response[:2000])
        scores[str(position)] = result.score
        return quiz_feedback_markdown(result) + "\n\n" + _running(scores, len(questions)), scores

    def next(self, questions: list[QuizQuestion], position: int, scores: dict | None = None):
        """(position, question, feedback): the next question, or after the last one the summary."""
        if not questions:
            return 0, "请先点“出题”。", ""
        if position >= len(questions) - 1:
            return position, quiz_summary_markdown(questions, dict(scores or {})), ""
        position += 1
        return position, question_markdown(questions[position], position + 1, len(questions)), ""

    def build(self) -> None:
        with gr.Tab("练习测验"):
            gr.Markdown(
                "题目来自教材各模块的“思考与练习”，以及根据教材原文和话术模板生成的练习；每次出题顺序不同。"
                "每题答案都注明出处和页码，做完最后一题会按章节汇总得分和要重读的段落。"
            )
            with gr.Row():
                module = gr.Dropdown([("模块一 网店客服岗前准备", "m1")], value="m1", label="模块", scale=2)
                start = gr.Button("出题", variant="primary", scale=1, elem_id="km-quiz-start")
            ids = gr.State([])  # this session's questions
            position = gr.State(0)
            scores = gr.State({})  # position → score of the latest answer
            question = gr.Markdown(elem_id="km-quiz-question")
            answer = gr.Textbox(label="你的答案（回车提交）", elem_id="km-quiz-answer")
            with gr.Row():
                check_button = gr.Button("提交答案", elem_id="km-quiz-check")
                next_q = gr.Button("下一题", elem_id="km-quiz-next")
            feedback = gr.Markdown(elem_id="km-quiz-feedback")
            start.click(self.start, [module], [ids, position, question, feedback, scores], api_visibility="private")
            for trigger in (check_button.click, answer.submit):
                trigger(self.answer, [answer, ids, position, scores], [feedback, scores], api_visibility="private")
            next_q.click(self.next, [ids, position, scores], [position, question, feedback], api_visibility="private").then(
                lambda: "", None, answer, api_visibility="private"
            )


def _running(scores: dict, total: int) -> str:
    done = len(scores)
    right = sum(1 for v in scores.values() if v >= 0.999)
    return f"**目前**：已答 {done}/{total} 题，答对 {right} 题，平均得分 {sum(scores.values()) / max(1, done):.0%}。"
