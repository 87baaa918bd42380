"""The 情景演练 tab: the mentor plays a buyer, the trainee replies, the reply is graded item by item."""

from __future__ import annotations

import logging

import gradio as gr

from ..errors import MentorError
from ..modes.drills import PASS_SCORE, DrillCoach, DrillSummary, Scenario, coach_for, load_scenarios
from .context import AppContext, usable_class
from .render import grade_markdown, md_escape, summary_markdown

log = logging.getLogger(__name__)
ALL = "全部类别"


class DrillTab:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self._coach: DrillCoach | None = None

    def coach(self) -> DrillCoach:
        """The grader, built once from the shared mentor's embedder and passages."""
        mentor = self.ctx.mentor()
        if self._coach is None or self._coach.chunks is not mentor.chunks:  # rebuilt since: new passages
            self._coach = coach_for(mentor, self.ctx.settings.corpus_dir)
        return self._coach

    def families(self) -> list[str]:
        """The scenario families, read from the templates (no index needed: the page is built while it loads)."""
        try:
            return sorted({s.family for s in load_scenarios(self.ctx.settings.corpus_dir)})
        except MentorError as exc:
            log.warning("drills unavailable: %s", exc)
            return []

    def next(self, family: str, current: dict | None):
        """(scenario, opening, reply box, result, recommended): a new drill, opened by the buyer."""
        busy = self.ctx.busy(wait=self.ctx.settings.load_wait)
        if busy:
            return {}, md_escape(busy), "", "", gr.update(value="", visible=False)
        try:
            scenario = self.coach().next_scenario(
                None if family in (None, "", ALL) else family, exclude=(current or {}).get("template_id")
            )
        except MentorError as exc:
            return {}, md_escape(str(exc)), "", "", gr.update(value="", visible=False)
        opening = (
            f"**场景**：{md_escape(scenario.scenario)}（{md_escape(scenario.family)} · {md_escape(scenario.stage)}）"
            + ("　共两轮：买家会接着你的回复再说一句。" if scenario.next_buyer else "")
            + f"\n\n**买家**：{md_escape(scenario.buyer_line)}"
        )
        return scenario.__dict__, opening, "", "", gr.update(value="", visible=False)

    def submit(self, reply: str, current: dict | None, summary: dict | None, opening: str = "", class_code: str | None = ""):
        """(result, recommended, summary, summary table, scenario, opening, reply box): the grade of this
        turn; when the scenario has a second turn, the buyer's answer to it and the drill moves on."""
        unchanged = (gr.update(), summary, summary_markdown(DrillSummary(summary or {})), current, gr.update(), gr.update())
        if not current:
            return "请先点“下一题”开始演练。", *unchanged
        if not (reply or "").strip():
            return "请先写下你的回复，再提交。", *unchanged
        scenario = Scenario(**current)
        try:
            grade = self.coach().grade(scenario, reply[:2000])
        except Exception:  # the page must never show a traceback
            log.exception("grading failed")
            return "评分时出了点问题，请再提交一次。", *unchanged
        totals = DrillSummary({k: list(v) for k, v in (summary or {}).items()})
        totals.add(grade)
        self.ctx.record_practice(
            class_code=usable_class(class_code),
            kind="drill",
            item_id=f"{scenario.template_id}#{scenario.turn}",
            toc_id=scenario.toc,
            topic=scenario.family,
            prompt=scenario.buyer_line,
            response=reply[:2000],
            score=grade.score / 100,
            passed=grade.score >= PASS_SCORE,
        )
        header = f"#### 第 {scenario.turn} 轮\n\n" if scenario.turn > 1 or scenario.next_buyer else ""
        said = f"{opening}\n\n**你**：{md_escape(reply[:300])}"
        following = scenario.second_turn()
        if following is not None:
            said += f"\n\n**买家**：{md_escape(following.buyer_line)}\n\n*第 2 轮：接着回复买家这句话。*"
            state, box = following.__dict__, ""
        else:
            said += "\n\n*本题结束，点“下一题”换一个场景。*" if scenario.turn > 1 else ""
            state, box = ({} if scenario.turn > 1 else current), gr.update()
        return (
            header + grade_markdown(grade),
            gr.update(value=grade.scenario.reply, visible=True),
            totals.scores,
            summary_markdown(totals),
            state,
            said,
            box,
        )

    def build(self, class_code: gr.components.Component | None = None) -> None:
        with gr.Tab("情景演练"):
            gr.Markdown(
                "导师扮演买家，你来回复；大多数场景有两轮，买家会接着你的回复再说一句。评分看四件事：是否回应了这位买家、是否讲到这个场景的要点、是否用完整礼貌的句子、有没有碰红线；"
                "每一项都注明依据的章节，并告诉你最该先改哪一点。"
            )
            with gr.Row():
                family = gr.Dropdown([ALL, *self.families()], value=ALL, label="场景类别", scale=2)
                next_button = gr.Button("下一题", variant="primary", scale=1, elem_id="km-drill-next")
            current = gr.State({})
            summary_state = gr.State({})
            opening = gr.Markdown("点“下一题”开始。", elem_id="km-drill-opening")
            reply = gr.Textbox(label="你的回复", lines=3, elem_id="km-drill-reply")
            submit = gr.Button("提交", elem_id="km-drill-submit")
            result = gr.Markdown(elem_id="km-drill-result")
            recommended = gr.Textbox(label="推荐回复（可一键复制）", visible=False, interactive=False, buttons=["copy"])
            summary_md = gr.Markdown(summary_markdown(DrillSummary()), elem_id="km-drill-summary")
            next_button.click(
                self.next, [family, current], [current, opening, reply, result, recommended], api_visibility="private"
            )
            code = [class_code] if class_code is not None else []
            submit.click(
                self.submit,
                [reply, current, summary_state, opening, *code],
                [result, recommended, summary_state, summary_md, current, opening, reply],
                api_visibility="private",
            )
