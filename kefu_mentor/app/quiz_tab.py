"""The 练习测验 tab: the book's exercises and generated questions, each answer with its passage."""

from __future__ import annotations

import random

import gradio as gr

from ..errors import MentorError
from ..modes.quiz import ALL_MODULES, MODULES, SESSION_SIZE, QuizQuestion, build_quiz, check, masked_excerpt
from ..pipeline.toc import TableOfContents
from .context import AppContext, usable_class
from .render import md_escape, question_markdown, quiz_feedback_markdown, quiz_summary_markdown

_CHOICE = ("single", "template")  # radio buttons
_PICKED = (*_CHOICE, "multiple")  # answered by picking options, not by typing


class QuizTab:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    def modules(self) -> list[tuple[str, str]]:
        """全部模块, then each module by its title in the book's table of contents."""
        mixed = (f"全部模块（每次 {SESSION_SIZE} 题）", ALL_MODULES)
        try:
            toc = TableOfContents.load(self.ctx.settings.corpus_dir / "toc.yaml")
            return [mixed] + [(toc[m].title, m) for m in MODULES]
        except (MentorError, KeyError):
            return [mixed] + [(m, m) for m in MODULES]

    def start(self, module: str, seed: int | None = None):
        """(questions, position, question, feedback, scores, *answer boxes): a new session, in its own order."""
        busy = self.ctx.busy(wait=self.ctx.settings.load_wait)
        if busy:
            return [], 0, md_escape(busy), "", {}, *_boxes(None)
        # Each session draws its own generated questions and its own order.
        seed = random.randrange(1 << 30) if seed is None else seed
        try:
            questions = build_quiz(self.ctx.settings.corpus_dir, self.ctx.mentor().chunks, module or ALL_MODULES, seed=seed)
        except MentorError as exc:
            return [], 0, md_escape(str(exc)), "", {}, *_boxes(None)
        if not questions:
            return [], 0, "这个模块还没有题目。", "", {}, *_boxes(None)
        random.Random(seed).shuffle(questions)
        return questions, 0, question_markdown(questions[0], 1, len(questions)), "", {}, *_boxes(questions[0])

    def answer(
        self,
        typed: str,
        chosen: str | None,
        ticked: list[str] | None,
        questions: list[QuizQuestion],
        position: int,
        scores: dict | None = None,
        class_code: str | None = "",
    ):
        """(feedback, scores): the verdict on this answer and the running score."""
        scores = dict(scores or {})
        if not questions or position >= len(questions):
            return "请先点“出题”。", scores
        question = questions[position]
        if question.kind in _CHOICE:
            response = chosen or ""
        elif question.kind == "multiple":
            response = "".join(sorted(ticked or []))
        else:
            response = (typed or "").strip()
        if not response:
            hint = "先选一个选项" if question.kind in _PICKED else "先写下你的答案"
            return f"请{hint}，再提交（文字题按回车也可以）。", scores
        result = check(question, response[:2000])
        scores[str(position)] = result.score
        self.ctx.record_practice(
            class_code=usable_class(class_code),
            kind="quiz",
            item_id=question.id,
            toc_id=question.basis.toc_id if question.basis else None,
            topic=_section(question),
            prompt=question.prompt,
            # A letter alone would not tell the teacher what was chosen.
            response="；".join(o for o in question.options if o[:1] in response) if question.kind in _PICKED else response,
            score=result.score,
            passed=result.correct,
        )
        # The passage shown with this verdict must not hand over another question's answer.
        excerpt = masked_excerpt(question, [q for i, q in enumerate(questions) if str(i) not in scores])
        return quiz_feedback_markdown(result, excerpt) + "\n\n" + _running(scores, len(questions)), scores

    def next(self, questions: list[QuizQuestion], position: int, scores: dict | None = None):
        """(position, question, feedback, *answer boxes): the next question, or after the last one the summary."""
        if not questions:
            return 0, "请先点“出题”。", "", *_boxes(None)
        if position >= len(questions) - 1:
            return position, quiz_summary_markdown(questions, dict(scores or {})), "", *_boxes(None)
        position += 1
        return position, question_markdown(questions[position], position + 1, len(questions)), "", *_boxes(questions[position])

    def build(self, class_code: gr.components.Component | None = None) -> None:
        with gr.Tab("练习测验"):
            gr.Markdown(
                "题目来自教材模块一的“思考与练习”、我们据补充资料为模块二至七编写的练习，以及根据教材原文和话术模板生成的题；"
                "每次出题顺序不同。每题答案都注明出处，做完最后一题会按章节汇总得分和要重读的段落。"
            )
            with gr.Row():
                module = gr.Dropdown(self.modules(), value=ALL_MODULES, label="模块", scale=2, elem_id="km-quiz-module")
                start = gr.Button("出题", variant="primary", scale=1, elem_id="km-quiz-start")
            ids = gr.State([])  # this session's questions
            position = gr.State(0)
            scores = gr.State({})  # position → score of the latest answer
            question = gr.Markdown(elem_id="km-quiz-question")
            typed = gr.Textbox(label="你的答案（回车提交）", elem_id="km-quiz-answer")
            chosen = gr.Radio([], label="选一项", visible="hidden", elem_id="km-quiz-choice")
            ticked = gr.CheckboxGroup([], label="选出所有正确的选项", visible="hidden", elem_id="km-quiz-choices")
            with gr.Row():
                check_button = gr.Button("提交答案", elem_id="km-quiz-check")
                next_q = gr.Button("下一题", elem_id="km-quiz-next")
            feedback = gr.Markdown(elem_id="km-quiz-feedback")
            boxes = [typed, chosen, ticked]
            start.click(self.start, [module], [ids, position, question, feedback, scores, *boxes], api_visibility="private")
            code = [class_code] if class_code is not None else []
            inputs = [typed, chosen, ticked, ids, position, scores, *code]
            for trigger in (check_button.click, typed.submit):
                trigger(self.answer, inputs, [feedback, scores], api_visibility="private")
            next_q.click(self.next, [ids, position, scores], [position, question, feedback, *boxes], api_visibility="private")


def _boxes(question: QuizQuestion | None) -> tuple:
    """The answer boxes for a question: a text box for fill-ins and short answers, radio buttons for
    one choice, tick boxes for several; each emptied."""
    kind = question.kind if question else ""
    options = [(o, o.split(".", 1)[0].strip()) for o in (question.options if question else ())]

    # "hidden" keeps a box on the page, only out of sight: switching back and forth between kinds
    # then never has to mount a component again while the learner is already typing.
    def shown(yes: bool):
        return True if yes else "hidden"

    return (
        gr.update(value="", visible=shown(kind not in _PICKED)),
        gr.update(choices=options if kind in _CHOICE else [], value=None, visible=shown(kind in _CHOICE)),
        gr.update(choices=options if kind == "multiple" else [], value=[], visible=shown(kind == "multiple")),
    )


def _section(question: QuizQuestion) -> str:
    """The section a question rests on (its breadcrumb up to the task), for the teacher view."""
    if not question.basis:
        return "其他"
    crumbs = question.basis.title.split(" › ")
    return " › ".join(crumbs[:2])


def _running(scores: dict, total: int) -> str:
    done = len(scores)
    right = sum(1 for v in scores.values() if v >= 0.999)
    return f"**目前**：已答 {done}/{total} 题，答对 {right} 题，平均得分 {sum(scores.values()) / max(1, done):.0%}。"
