"""The 教师看板 tab: coverage, where learners' questions land, what the material cannot answer."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ..errors import MentorError
from ..modes.instructor import (
    by_need,
    coverage_chart,
    coverage_table,
    export_csv,
    export_feedback_csv,
    export_practice_csv,
    family_rows,
    group_gaps,
    practice_label,
    weakest_practice,
)
from ..modes.redact import KINDS_ZH, LABELS
from ..modes.uploads import add, list_uploads, preview, remove
from ..pipeline.mentor import Mentor
from ..pipeline.toc import TEACHER_ROOT, TableOfContents
from .context import AppContext, page_progress
from .render import answer_markdown, md_escape

TEACHER_CHOICE = "教师资料（不属于教材的某一节）"
ALL_CLASSES = "全部班级"


def _reason(exc: Exception) -> str:
    """Why an upload or removal failed, for the page (a full disk says so, not an errno)."""
    if isinstance(exc, OSError):
        return f"写入失败（{md_escape(exc.strerror or str(exc))}）。请检查磁盘空间和文件夹权限后再试。"
    return md_escape(str(exc))


class TeacherTab:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    # -- instructors' own material ---------------------------------------------------------
    def sections(self) -> list[tuple[str, str]]:
        """Where an upload can go: 教师资料 first, then every TOC node as 模块 › 任务 › 小节."""
        try:
            toc = TableOfContents.load(self.ctx.settings.corpus_dir / "toc.yaml")
        except MentorError:
            return [(TEACHER_CHOICE, TEACHER_ROOT)]
        return [(TEACHER_CHOICE, TEACHER_ROOT)] + [(" › ".join(toc.breadcrumb(n.id)), n.id) for n in toc if n.id != TEACHER_ROOT]

    def uploads_table(self) -> list[list[str]]:
        return [list(row) for row in list_uploads(self.ctx.settings)]

    def upload_preview(self, password: str, file: str | None, under: str) -> str:
        denied = self.ctx.instructor_denied(password)
        if denied:
            return denied
        if not file:
            return "请先选择要上传的文件（.md、.txt、.docx 或 .pdf）。"
        try:
            prepared = preview(self.ctx.settings, Path(file), under or TEACHER_ROOT)
        except MentorError as exc:
            return md_escape(str(exc))
        rows = "\n".join(f"- {md_escape(title)}（{chars} 字）" for title, chars in prepared.sections)
        return (
            f"**{md_escape(prepared.name)}** 将作为**教师资料**加入（文件 `corpus/teacher/{md_escape(prepared.stored)}`），"
            f"共 {len(prepared.sections)} 节：\n\n{rows}\n\n确认无误后点“确认添加”。"
        )

    def upload_add(self, password: str, file: str | None, under: str, replace: bool, progress=gr.Progress()):  # noqa: B008 - Gradio injects its tracker here
        """(result, uploads table, removal choices, file box): on any failure only the result changes."""
        unchanged = (gr.update(), gr.update(), gr.update())
        denied = self.ctx.instructor_denied(password)
        if denied:
            return denied, *unchanged
        if not file:
            return "请先选择要上传的文件。", *unchanged
        try:
            prepared = preview(self.ctx.settings, Path(file), under or TEACHER_ROOT)
            with self.ctx.changing():
                manifest = add(self.ctx.settings, prepared, replace=bool(replace), progress=page_progress(progress))
                self.ctx.replace_mentor(Mentor.load(self.ctx.settings.index_dir, self.ctx.settings))
        except (MentorError, OSError) as exc:
            return f"没有添加，原来的资料和索引都没变：{_reason(exc)}", *unchanged
        return (
            f"已添加“{md_escape(prepared.name)}”（{len(prepared.sections)} 节，新向量化 "
            f"{manifest['embedding_cache']['misses']} 段）。现在就可以在问答里提问了，引用会标为**教师资料**。",
            *self._listing(),
            None,  # the file box empties, ready for the next upload
        )

    def upload_remove(self, password: str, stored: str, progress=gr.Progress()):  # noqa: B008 - Gradio injects its tracker here
        """(result, uploads table, removal choices): on any failure only the result changes."""
        unchanged = (gr.update(), gr.update())
        denied = self.ctx.instructor_denied(password)
        if denied:
            return denied, *unchanged
        if not stored:
            return "请先在上面的下拉框里选择要删除的资料。", *unchanged
        try:
            with self.ctx.changing():
                remove(self.ctx.settings, stored, progress=page_progress(progress))
                self.ctx.replace_mentor(Mentor.load(self.ctx.settings.index_dir, self.ctx.settings))
        except (MentorError, OSError) as exc:
            return f"没有删除，原来的资料和索引都没变：{_reason(exc)}", *unchanged
        return f"已删除 {md_escape(stored)}，索引已更新。", *self._listing()

    def _listing(self) -> tuple[list[list[str]], dict]:
        """The uploads table and the removal dropdown's choices, from one read of the folder."""
        rows = self.uploads_table()
        return rows, gr.update(choices=[row[0] for row in rows], value=None)

    # -- closing the loop: from a 👎 or a gap to material, then the question again -------------
    def pick_disliked(self, event: gr.SelectData):
        """A disliked answer's row: its subsection preselected for an upload, its question ready to re-ask."""
        toc_id, _, question = (list(event.row_value or []) + ["", "", ""])[:3]
        known = {value for _, value in self.sections()}
        return gr.update(value=toc_id if toc_id in known else TEACHER_ROOT), question, gr.update(open=True)

    def pick_gap(self, event: gr.SelectData):
        """A gap's row: its question ready to re-ask once material is added (the section is the instructor's call)."""
        question = (list(event.row_value or []) + [""])[0]
        return question, gr.update(open=True)

    def check(self, question: str) -> str:
        """The learner's answer to `question` now, with where its first passage comes from."""
        if not (question or "").strip():
            return "请先填一个问题（在上面“点踩的回答”或“回答不了的问题”表里点一行，会自动填好）。"
        try:
            answer = self.ctx.mentor().ask(question)
        except MentorError as exc:
            return md_escape(str(exc))
        if answer.abstained:
            return "现在仍然回答不了：" + answer_markdown(answer)
        top = answer.citations[0]
        return f"现在第一条引用是 **{top.label}** · {md_escape(top.title)}\n\n" + answer_markdown(answer)

    def refresh(self, password: str, class_code: str | None = None):
        """(summary, focus, coverage, families, weakest practice, gaps, disliked, files, chart, class choices)."""
        empty = (None,) * 8
        denied = self.ctx.instructor_denied(password)
        if denied:
            return denied, *empty, gr.update()
        qlog = self.ctx.question_log
        chosen = class_code if class_code and class_code != ALL_CLASSES else None
        stale = self.ctx.stale_reason()
        banner = f"⚠️ **资料改动还没进索引**：{md_escape(stale)}\n\n" if stale else ""
        try:
            entries = qlog.entries(chosen) if qlog else []
            feedback = qlog.feedback(chosen) if qlog else []
            practice = qlog.practice(chosen) if qlog else []
            classes = qlog.classes() if qlog else []
        except MentorError as exc:  # the database is away: the rest of the view still works
            entries, feedback, practice, classes = [], [], [], []
            banner += f"⚠️ **提问日志读不到**：{md_escape(str(exc))}\n\n"
        else:  # reading worked: writes may still be waiting, or there is no log at all
            problem = self.ctx.log_status()
            banner += f"⚠️ {md_escape(problem)}\n\n" if problem else ""
        class_choices = gr.update(choices=[ALL_CLASSES, *classes], value=class_code or ALL_CLASSES)
        try:
            table = coverage_table(self.ctx.settings, entries, feedback, practice)
        except MentorError as exc:  # the corpus cannot be read: say what to fix, keep the page
            return banner + f"覆盖情况暂时无法统计：{md_escape(str(exc))}", *empty, class_choices
        ranked = by_need(table)
        coverage_rows = [
            [
                r["breadcrumb"],
                r["need"],
                r["questions"],
                r["cited"],
                r["low_confidence"],
                r["disliked"],
                f"{r['drills']} 次 · 均分 {100 * r['drill_avg']:.0f}" if r["drills"] else "",
                f"{r['quizzes']} 题 · 错 {r['quiz_wrong']}" if r["quizzes"] else "",
                r["page"],
                r["textbook"],
                r["supplement"],
                r["template"],
                r["teacher"],
                "没有资料" if r["no_material"] else ("从未被引用" if r["never_cited"] else ""),
            ]
            for r in ranked
        ]
        families = [
            [
                f.family,
                f.questions,
                f.weak_questions,
                f.attempts,
                "" if f.average is None else round(100 * f.average),
                "" if f.lowest is None else round(100 * f.lowest),
                f.weakest_prompt,
                f.weakest_reply,
            ]
            for f in family_rows(practice, entries)
        ]
        weak = weakest_practice(practice)
        weakest = [[practice_label(p.kind), p.topic, p.prompt, p.response, round(100 * p.score)] for p in weak]
        gaps = group_gaps(entries)
        gap_rows = [[g.example, g.count, g.refused, g.low_confidence, " | ".join(g.questions[:5])] for g in gaps]
        # Disliked answers by subsection (refusals last), newest first within each.
        disliked = sorted((f for f in feedback if not f.liked), key=lambda f: (f.breadcrumb or "~", -f.given_at))
        disliked_rows = [[f.toc_id or "", f.breadcrumb or "（拒答）", f.question, f.reason, f.answer] for f in disliked]
        folder = Path(self.ctx.settings.data_dir) / "exports"
        files = [
            *export_csv(table, gaps, folder),
            export_feedback_csv(feedback, folder),
            export_practice_csv(practice, folder),
            coverage_chart(table, folder / "coverage.png"),
        ]
        scope = f"班级 **{md_escape(chosen)}**：" if chosen else ""
        drills = [p for p in practice if p.kind == "drill"]
        quizzes = [p for p in practice if p.kind == "quiz"]
        summary = (
            banner
            + scope
            + (
                f"共 {len(table)} 个小节，{sum(not r['no_material'] for r in table)} 个有资料；"
                f"记录了 {len(entries)} 个提问，其中拒答 {sum(e.abstained for e in entries)} 个；"
                f"学员评价 {len(feedback)} 次，其中点踩 {len(disliked)} 次；"
                f"情景演练 {len(drills)} 次回复，练习测验 {len(quizzes)} 次作答"
                + (f"（答错 {sum(not p.passed for p in quizzes)} 次）" if quizzes else "")
                + "。"
                + (f"（提问日志：{qlog.backend} · `{md_escape(qlog.where)}`）" if qlog else "")
            )
        )
        return (
            summary,
            focus_markdown(ranked, weak),
            coverage_rows,
            families,
            weakest,
            gap_rows,
            disliked_rows,
            [str(f) for f in files],
            str(files[-1]),
            class_choices,
        )

    def rebuild(self, password: str, progress=gr.Progress()) -> str:  # noqa: B008 - Gradio injects its tracker
        return self.ctx.rebuild(password, page_progress(progress))

    def build(self) -> None:
        with gr.Tab("教师看板") as tab:
            gr.Markdown(
                "资料覆盖、学员提问落在哪里、哪些问题教材回答不了。学员提问和评价里的个人信息在写入前已被替换成标签："
                f"{KINDS_ZH}分别显示为 {' '.join(LABELS.values())}，看得出问的是哪类信息，看不到信息本身。"
            )
            with gr.Row():
                password = gr.Textbox(
                    label="教师密码",
                    type="password",
                    visible=bool(self.ctx.instructor_password),
                    scale=2,
                    elem_id="km-teacher-password",
                )
                class_filter = gr.Dropdown(
                    [ALL_CLASSES], value=ALL_CLASSES, label="班级", scale=1, allow_custom_value=True, elem_id="km-teacher-class"
                )
                refresh = gr.Button("刷新看板", variant="primary", scale=1, elem_id="km-teacher-refresh")
            summary = gr.Markdown(elem_id="km-teacher-summary")
            with gr.Row():
                rebuild = gr.Button("修改语料后重建索引", size="sm", scale=1, elem_id="km-teacher-rebuild")
                rebuild_result = gr.Markdown()
            focus = gr.Markdown(elem_id="km-teacher-focus")
            coverage = gr.Dataframe(
                headers=[
                    "小节",
                    "需要关注",
                    "第一条引用",
                    "被引用（任一位置）",
                    "低置信度",
                    "点踩",
                    "情景演练",
                    "练习测验",
                    "页码",
                    "教材",
                    "补充",
                    "话术",
                    "教师",
                    "提示",
                ],
                label="各小节（按需要关注的程度排序：低置信度回答、点踩（算两次）、不及格的演练回复、答错的测验题）",
                wrap=True,
                # Fixed widths: on a phone the table scrolls sideways instead of squeezing every
                # column but the first out of sight (the list above it is the phone's summary).
                column_widths=["240px", "80px", "80px", "90px", "80px", "50px", "130px", "110px"] + ["60px"] * 5 + ["100px"],
                elem_id="km-coverage",
            )
            families = gr.Dataframe(
                headers=[
                    "场景类别",
                    "提问",
                    "拒答或低置信度",
                    "演练次数",
                    "平均分",
                    "最低分",
                    "最低分时买家的话",
                    "最低分的回复",
                ],
                label="各场景类别：学员的提问（第一条引用是这一类的话术，或识别为这一类的买家消息）和情景演练（需要关注的在前）",
                wrap=True,
                column_widths=["110px", "60px", "90px", "80px", "70px", "70px", "180px", "260px"],
                elem_id="km-families",
            )
            weakest = gr.Dataframe(
                headers=["类型", "类别或章节", "题目或买家的话", "学员的回答", "得分"],
                label="最需要讲评的练习：不及格的演练回复和答错的测验题（得分低的在前）",
                wrap=True,
                column_widths=["90px", "200px", "220px", "260px", "60px"],
                elem_id="km-weakest",
            )
            gaps = gr.Dataframe(
                headers=["代表问题", "次数", "拒答", "低置信度", "其他问法"],
                label="回答不了或把握不大的问题。点一行：填好要检验的问题",
                wrap=True,
            )
            disliked = gr.Dataframe(
                headers=["目录id", "小节", "问题", "原因", "回答开头"],
                label="学员点踩的回答（按小节）。点一行：在下面“添加教师资料”里选好这一节，并填好要检验的问题",
                wrap=True,
                elem_id="km-disliked",
            )
            chart = gr.Image(label="各模块资料覆盖", type="filepath", elem_id="km-teacher-chart")
            files = gr.File(label="导出（CSV 与覆盖图）", file_count="multiple")
            with gr.Accordion("添加教师资料（学校讲义、店铺售后政策、平台规则页…）", open=False) as adder:
                gr.Markdown("上传后的内容标为**教师资料**，注明原文件名，不会当作教材原文。PDF 保留页码；扫描件需先做文字识别。")
                with gr.Row():
                    upload = gr.File(
                        label="文件（.md / .txt / .docx / .pdf，10 MB 以内）",
                        type="filepath",
                        file_types=[".md", ".txt", ".docx", ".pdf"],
                        elem_id="km-upload-file",
                    )
                    with gr.Column():
                        under = gr.Dropdown(
                            self.sections(),
                            value=TEACHER_ROOT,
                            label="放在哪一节（可输入搜索）",
                            filterable=True,
                            elem_id="km-upload-under",
                        )
                        replace = gr.Checkbox(label="替换同名的已有资料", value=False)
                with gr.Row():
                    preview_button = gr.Button("预览分节", elem_id="km-upload-preview")
                    add_button = gr.Button("确认添加", variant="primary", elem_id="km-upload-add")
                upload_result = gr.Markdown(elem_id="km-upload-result")
                listing = gr.Dataframe(
                    self.uploads_table(), headers=["文件", "原文件名", "章节"], label="已添加的教师资料", interactive=False
                )
                with gr.Row():
                    to_remove = gr.Dropdown(
                        [r[0] for r in list_uploads(self.ctx.settings)],
                        label="要删除的资料",
                        allow_custom_value=True,
                        elem_id="km-upload-remove",
                    )
                    remove_button = gr.Button("删除", variant="stop", size="sm", elem_id="km-upload-remove-button")
            preview_button.click(self.upload_preview, [password, upload, under], upload_result, api_visibility="private")
            add_button.click(
                self.upload_add,
                [password, upload, under, replace],
                [upload_result, listing, to_remove, upload],
                api_visibility="private",
            )
            remove_button.click(
                self.upload_remove, [password, to_remove], [upload_result, listing, to_remove], api_visibility="private"
            )
            with gr.Row():
                check_question = gr.Textbox(label="检验：添加资料后重新问一次", scale=4, elem_id="km-teacher-check-question")
                check_button = gr.Button("重新提问", scale=1, elem_id="km-teacher-check")
            check_answer = gr.Markdown(elem_id="km-teacher-check-answer")
            check_button.click(self.check, [check_question], check_answer, api_visibility="private")
            disliked.select(self.pick_disliked, None, [under, check_question, adder], api_visibility="private")
            gaps.select(self.pick_gap, None, [check_question, adder], api_visibility="private")
            outputs = [summary, focus, coverage, families, weakest, gaps, disliked, files, chart, class_filter]
            refresh.click(self.refresh, [password, class_filter], outputs, api_visibility="private")
            # Enter in the password box opens the view, as it would on any log-in form.
            password.submit(self.refresh, [password, class_filter], outputs, api_visibility="private")
            class_filter.input(self.refresh, [password, class_filter], outputs, api_visibility="private")
            rebuild.click(self.rebuild, [password], rebuild_result, api_visibility="private").then(
                self.refresh, [password, class_filter], outputs, api_visibility="private"
            )
            # The view opens filled (when no password is asked for; otherwise it says so).
            tab.select(self.refresh, [password, class_filter], outputs, api_visibility="private")


def focus_markdown(ranked: list[dict], weakest: list, top: int = 5) -> str:
    """The few sections to teach first, as short lines that read on a phone too."""
    needy = [r for r in ranked if r["need"] > 0][:top]
    if not needy:
        return "**先讲什么**：还没有需要特别关注的小节（没有低置信度回答、点踩、不及格的演练或答错的测验）。"
    lines = ["**先讲什么**（需要关注的程度从高到低）："]
    for r in needy:
        signs = [
            f"{label} {r[key]}"
            for key, label in (
                ("low_confidence", "低置信度"),
                ("disliked", "点踩"),
                ("weak_drills", "演练不及格"),
                ("quiz_wrong", "测验答错"),
            )
            if r[key]
        ]
        lines.append(f"- {md_escape(r['breadcrumb'])}：{'，'.join(signs)}")
    if weakest:
        p = weakest[0]
        lines.append(f"\n得分最低的练习：{practice_label(p.kind)} · {md_escape(p.topic)} · {round(100 * p.score)} 分")
    return "\n".join(lines)
