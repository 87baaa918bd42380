"""The mentor-mode tabs of the app: 情景演练, 练习测验 and 教师看板."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from .drills import DrillCoach, DrillSummary, Grade, Rubric, load_scenarios
from .errors import MentorError
from .instructor import coverage_chart, coverage_table, export_csv, group_gaps
from .quiz import QuizQuestion, build_quiz, check
from .ui import md_escape

log = logging.getLogger(__name__)
ALL = "全部类别"


def _basis_md(basis) -> str:
    if basis is None:
        return ""
    page = f" · 第 {basis.page} 页" if basis.page else ""
    return f"依据：{basis.label} · {md_escape(basis.breadcrumb)}{page}"


def grade_markdown(grade: Grade) -> str:
    lines = [f"### 得分：{grade.score:.0f} / 100", "", "| 评分项 | 结果 | 说明 | 依据 |", "|---|---|---|---|"]
    for item in grade.items:
        if item.kind == "forbidden" and item.passed:
            continue  # only violations are worth a line
        mark = "✅" if item.passed else ("⛔" if item.kind == "forbidden" else "❌")
        kind = {"required": "应包含", "forbidden": "不应出现", "similarity": "接近推荐回复"}[item.kind]
        lines.append(f"| {kind}：{md_escape(item.label)} | {mark} {item.points:+.0f} | {md_escape(item.evidence)} | {_basis_md(item.basis)} |")
    clean = [i.label for i in grade.items if i.kind == "forbidden" and i.passed]
    lines.append("")
    lines.append(f"没有出现禁止的内容（{md_escape('、'.join(clean))}）。" if len(clean) == sum(i.kind == "forbidden" for i in grade.items)
                 else "⛔ 标出的内容会让买家不满或违反平台规则，请避免。")
    lines += ["", f"**为什么推荐这样回**：{md_escape(grade.scenario.why)}", "", f"**不要这样说**：{md_escape(grade.scenario.avoid)}"]
    return "\n".join(lines)


def summary_markdown(summary: DrillSummary) -> str:
    rows = summary.rows()
    if not rows:
        return "完成一题后，这里会按类别汇总你的得分。"
    lines = ["| 类别 | 练习次数 | 平均分 | 最高分 |", "|---|---|---|---|"]
    lines += [f"| {md_escape(f)} | {n} | {avg:.0f} | {best:.0f} |" for f, n, avg, best in rows]
    return "\n".join(lines)


class ModeTabs:
    """Builds the three tabs; shares the app's mentor (embedder and chunks)."""

    def __init__(self, ui):
        self.ui = ui
        self._coach: DrillCoach | None = None

    # -- drills ---------------------------------------------------------------------------
    def coach(self) -> DrillCoach:
        if self._coach is None:
            mentor = self.ui.mentor()
            corpus = self.ui.settings.corpus_dir
            self._coach = DrillCoach(load_scenarios(corpus), Rubric.load(corpus / "drills" / "rubric.yaml"),
                                     mentor.embedder, mentor.store.chunks)
        return self._coach

    def drill_next(self, family: str, current: dict | None):
        try:
            scenario = self.coach().next_scenario(None if family in (None, "", ALL) else family,
                                                  exclude=(current or {}).get("template_id"))
        except MentorError as exc:
            return {}, md_escape(str(exc)), "", "", gr.update(value="", visible=False)
        opening = (f"**场景**：{md_escape(scenario.scenario)}（{md_escape(scenario.family)} · {md_escape(scenario.stage)}）\n\n"
                   f"🧑 **买家**：{md_escape(scenario.buyer_line)}")
        return scenario.__dict__, opening, "", "", gr.update(value="", visible=False)

    def drill_submit(self, reply: str, current: dict | None, summary: dict | None):
        if not current:
            return "请先点“下一题”开始演练。", gr.update(), summary, summary_markdown(DrillSummary(summary or {}))
        if not (reply or "").strip():
            return "请先写下你的回复，再提交。", gr.update(), summary, summary_markdown(DrillSummary(summary or {}))
        from .drills import Scenario

        try:
            grade = self.coach().grade(Scenario(**current), reply[:2000])
        except Exception:
            log.exception("grading failed")
            return "评分时出了点问题，请再提交一次。", gr.update(), summary, summary_markdown(DrillSummary(summary or {}))
        totals = DrillSummary({k: list(v) for k, v in (summary or {}).items()})
        totals.add(grade)
        return (grade_markdown(grade), gr.update(value=grade.scenario.reply, visible=True), totals.scores,
                summary_markdown(totals))

    # -- quiz -----------------------------------------------------------------------------
    def quiz_start(self, module: str):
        try:
            mentor = self.ui.mentor()
            questions = build_quiz(self.ui.settings.corpus_dir, mentor.store.chunks, module or "m1")
        except MentorError as exc:
            return [], 0, md_escape(str(exc)), ""
        if not questions:
            return [], 0, "这个模块还没有题目。", ""
        return questions, 0, self._question_md(questions[0], 1, len(questions)), ""

    def _question_md(self, q: QuizQuestion, n: int, total: int) -> str:
        kind = {"fill": "填空题", "cloze": "填空题", "single": "单选题", "multiple": "多选题", "short": "简答题", "template": "话术选择题"}[q.kind]
        options = "\n".join(f"- {md_escape(o)}" for o in q.options)
        hint = {"fill": "多个空用顿号或空格隔开", "cloze": "", "single": "填字母", "multiple": "填所有正确的字母",
                "short": "写出要点", "template": "填字母"}[q.kind]
        return (f"**第 {n}/{total} 题 · {kind}**（{md_escape(q.origin)}）\n\n{md_escape(q.prompt)}\n\n{options}\n\n"
                + (f"*{hint}*" if hint else ""))

    def quiz_answer(self, response: str, questions: list[QuizQuestion], position: int):
        if not questions or position >= len(questions):
            return "请先点“出题”。"
        result = check(questions[position], (response or "")[:2000])
        q = result.question
        verdict = "✅ 正确" if result.correct else "❌ 不对"
        return (f"{verdict}（得分 {result.score:.0%}）。{md_escape(result.feedback)}\n\n**答案**：{md_escape(q.key)}\n\n"
                f"{_basis_md(q.basis)}\n\n> {md_escape(q.basis.excerpt) if q.basis else ''}")

    def quiz_next(self, questions: list[QuizQuestion], position: int):
        if not questions:
            return 0, "请先点“出题”。", ""
        position = min(position + 1, len(questions) - 1)
        return position, self._question_md(questions[position], position + 1, len(questions)), ""

    # -- instructor -----------------------------------------------------------------------
    def instructor_allowed(self, password: str) -> str | None:
        if self.ui.network and not self.ui.instructor_password:
            return "应用在网络上提供服务，但没有设置教师密码，教师看板已关闭。请设置 KEFU_MENTOR_INSTRUCTOR_PASSWORD。"
        return self.ui.gate.denied(password)

    def instructor_refresh(self, password: str):
        denied = self.instructor_allowed(password)
        if denied:
            return denied, None, None, None, None
        entries = self.ui.question_log.entries() if self.ui.question_log else []
        table = coverage_table(self.ui.settings, entries)
        gaps = group_gaps(entries)
        coverage_rows = [[r["breadcrumb"], r["page"], r["textbook"], r["supplement"], r["template"], r["questions"],
                          "没有资料" if r["no_material"] else ("从未被检索到" if r["never_retrieved"] else "")] for r in table]
        gap_rows = [[g.example, g.count, g.refused, g.low_confidence, " | ".join(g.questions[:5])] for g in gaps]
        folder = Path(self.ui.settings.data_dir) / "exports"
        files = [*export_csv(table, gaps, folder), coverage_chart(table, folder / "coverage.png")]
        summary = (f"共 {len(table)} 个小节，{sum(not r['no_material'] for r in table)} 个有资料；"
                   f"记录了 {len(entries)} 个提问，其中拒答 {sum(e.abstained for e in entries)} 个。")
        return summary, coverage_rows, gap_rows, [str(f) for f in files], str(files[-1])

    def build(self) -> None:
        with gr.Tab("情景演练"):
            gr.Markdown("导师扮演买家，你来回复。评分逐项列出要素、禁止内容和与推荐回复的接近程度，每一项都注明依据的章节。")
            families = [ALL] + (self.coach().families() if self._safe_coach() else [])
            with gr.Row():
                family = gr.Dropdown(families, value=ALL, label="场景类别", scale=2)
                next_button = gr.Button("下一题", variant="primary", scale=1, elem_id="km-drill-next")
            current = gr.State({})
            summary_state = gr.State({})
            opening = gr.Markdown("点“下一题”开始。", elem_id="km-drill-opening")
            reply = gr.Textbox(label="你的回复", lines=3, elem_id="km-drill-reply")
            submit = gr.Button("提交", elem_id="km-drill-submit")
            result = gr.Markdown(elem_id="km-drill-result")
            recommended = gr.Textbox(label="推荐回复（可一键复制）", visible=False, interactive=False, buttons=["copy"])
            summary_md = gr.Markdown(summary_markdown(DrillSummary()), elem_id="km-drill-summary")
            next_button.click(self.drill_next, [family, current], [current, opening, reply, result, recommended], api_visibility="private")
            submit.click(self.drill_submit, [reply, current, summary_state], [result, recommended, summary_state, summary_md], api_visibility="private")
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
            start.click(self.quiz_start, [module], [ids, position, question, feedback], api_visibility="private")
            check_button.click(self.quiz_answer, [answer, ids, position], [feedback], api_visibility="private")
            next_q.click(self.quiz_next, [ids, position], [position, question, feedback], api_visibility="private").then(
                lambda: "", None, answer, api_visibility="private")
        with gr.Tab("教师看板") as teacher_tab:
            gr.Markdown("资料覆盖、学员提问落在哪里、哪些问题教材回答不了。提问日志只保存在本机，手机号、身份证号、地址、订单号和姓名在写入前已被替换。")
            with gr.Row():
                password = gr.Textbox(label="教师密码", type="password", visible=bool(self.ui.instructor_password), scale=2,
                                      elem_id="km-teacher-password")
                refresh = gr.Button("刷新看板", variant="primary", scale=1, elem_id="km-teacher-refresh")
            summary = gr.Markdown(elem_id="km-teacher-summary")
            coverage = gr.Dataframe(headers=["小节", "页码", "教材", "补充", "话术", "提问数", "提示"], label="覆盖情况", wrap=True)
            gaps = gr.Dataframe(headers=["代表问题", "次数", "拒答", "低置信度", "其他问法"], label="回答不了或把握不大的问题", wrap=True)
            chart = gr.Image(label="各模块资料覆盖", type="filepath", elem_id="km-teacher-chart")
            files = gr.File(label="导出（CSV 与覆盖图）", file_count="multiple")
            outputs = [summary, coverage, gaps, files, chart]
            refresh.click(self.instructor_refresh, [password], outputs, api_visibility="private")
            # The view opens filled (when no password is asked for; otherwise it says so).
            teacher_tab.select(self.instructor_refresh, [password], outputs, api_visibility="private")

    def _safe_coach(self) -> bool:
        try:
            self.coach()
            return True
        except MentorError as exc:
            log.warning("drills unavailable: %s", exc)
            return False
