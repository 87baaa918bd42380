"""The 教师看板 tab: coverage, where learners' questions land, what the material cannot answer."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ..errors import MentorError
from ..modes.instructor import coverage_chart, coverage_table, export_csv, group_gaps
from .context import AppContext, page_progress
from .render import md_escape


class TeacherTab:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    def refresh(self, password: str):
        denied = self.ctx.instructor_denied(password)
        if denied:
            return denied, None, None, None, None
        entries = self.ctx.question_log.entries() if self.ctx.question_log else []
        stale = self.ctx.stale_reason()
        banner = f"⚠️ **资料改动还没进索引**：{md_escape(stale)}\n\n" if stale else ""
        try:
            table = coverage_table(self.ctx.settings, entries)
        except MentorError as exc:  # the corpus cannot be read: say what to fix, keep the page
            return banner + f"覆盖情况暂时无法统计：{md_escape(str(exc))}", None, None, None, None
        gaps = group_gaps(entries)
        coverage_rows = [
            [
                r["breadcrumb"],
                r["page"],
                r["textbook"],
                r["supplement"],
                r["template"],
                r["questions"],
                "没有资料" if r["no_material"] else ("从未被检索到" if r["never_retrieved"] else ""),
            ]
            for r in table
        ]
        gap_rows = [[g.example, g.count, g.refused, g.low_confidence, " | ".join(g.questions[:5])] for g in gaps]
        folder = Path(self.ctx.settings.data_dir) / "exports"
        files = [*export_csv(table, gaps, folder), coverage_chart(table, folder / "coverage.png")]
        summary = (
            f"共 {len(table)} 个小节，{sum(not r['no_material'] for r in table)} 个有资料；"
            f"记录了 {len(entries)} 个提问，其中拒答 {sum(e.abstained for e in entries)} 个。"
        )
        return summary, coverage_rows, gap_rows, [str(f) for f in files], str(files[-1])

    def rebuild(self, password: str, progress: gr.Progress | None = None) -> str:
        return self.ctx.rebuild(password, page_progress(progress))

    def build(self) -> None:
        with gr.Tab("教师看板") as tab:
            gr.Markdown(
                "资料覆盖、学员提问落在哪里、哪些问题教材回答不了。提问日志只保存在本机，手机号、身份证号、地址、订单号和姓名在写入前已被替换。"
            )
            with gr.Row():
                password = gr.Textbox(
                    label="教师密码",
                    type="password",
                    visible=bool(self.ctx.instructor_password),
                    scale=2,
                    elem_id="km-teacher-password",
                )
                refresh = gr.Button("刷新看板", variant="primary", scale=1, elem_id="km-teacher-refresh")
            summary = gr.Markdown(elem_id="km-teacher-summary")
            with gr.Row():
                rebuild = gr.Button("修改语料后重建索引", size="sm", scale=1, elem_id="km-teacher-rebuild")
                rebuild_result = gr.Markdown()
            coverage = gr.Dataframe(
                headers=["小节", "页码", "教材", "补充", "话术", "提问数", "提示"], label="覆盖情况", wrap=True
            )
            gaps = gr.Dataframe(
                headers=["代表问题", "次数", "拒答", "低置信度", "其他问法"], label="回答不了或把握不大的问题", wrap=True
            )
            chart = gr.Image(label="各模块资料覆盖", type="filepath", elem_id="km-teacher-chart")
            files = gr.File(label="导出（CSV 与覆盖图）", file_count="multiple")
            outputs = [summary, coverage, gaps, files, chart]
            refresh.click(self.refresh, [password], outputs, api_visibility="private")
            rebuild.click(self.rebuild, [password], rebuild_result, api_visibility="private").then(
                self.refresh, [password], outputs, api_visibility="private"
            )
            # The view opens filled (when no password is asked for; otherwise it says so).
            tab.select(self.refresh, [password], outputs, api_visibility="private")
