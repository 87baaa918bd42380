"""Pure rendering: answers, sources, drill grades and quiz questions as Markdown or HTML.

Nothing here touches Gradio or the mentor; every function takes data and returns text, so
the tabs and the tests share one way of showing things. All user text is escaped.
"""

from __future__ import annotations

import html
import re

from ..modes.drills import DrillSummary, Grade
from ..modes.quiz import QuizQuestion
from ..pipeline.answer import REFUSAL, SUGGESTIONS_LEAD
from ..schema import Answer

CSS = """
.km-source {border:1px solid var(--border-color-primary); border-radius:8px; padding:6px 10px; margin:6px 0;}
.km-source summary {cursor:pointer; font-weight:600;}
.km-label {display:inline-block; padding:0 6px; border-radius:4px; font-size:12px; margin-right:4px; color:#fff;}
.km-textbook {background:#2563eb;} .km-supplement {background:#7c3aed;} .km-template {background:#059669;}
.km-teacher {background:#b45309;}
.km-text {white-space:pre-wrap; line-height:1.7; margin-top:6px;}
.km-text mark {background:#fde68a; padding:0 1px;}
.km-refusal {border-left:4px solid #f59e0b; padding:6px 10px;}
.km-cite {text-decoration:none; font-weight:600;}
.km-more summary {cursor:pointer; color:var(--body-text-color-subdued);}
.km-flash {outline:2px solid #f59e0b;}
.km-pass {color:#047857; font-weight:600;} .km-fail {color:#b91c1c; font-weight:600;}
/* Each answer carries its own passages. On wide screens they stay hidden until its [n] is
   clicked (the panel on the right shows the latest answer's); on narrow screens that panel
   would sit far below the chat, so it is hidden and the passages show under each answer. */
.km-narrow {display:none;}
@media (min-width: 769px) {
  .km-inline-sources details:not([open]) {display:none;}
}
@media (max-width: 768px) {
  #km-sources {display:none;}
  .km-wide {display:none;} .km-narrow {display:inline;}
}
"""

# [n] in an answer opens that passage under the same answer (see CSS above). Capture phase:
# the chat's own link handling would otherwise open "#km-src-n" as a new page.
JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest ? event.target.closest('a.km-cite') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const rank = (link.getAttribute('href') || '').split('-').pop();
    let box = link.parentElement;
    while (box && !box.querySelector('.km-inline-sources')) box = box.parentElement;
    const target = box && box.querySelector('.km-inline-sources .km-src-' + rank);
    if (!target) return;
    target.open = true;
    target.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    target.classList.add('km-flash');
    setTimeout(() => target.classList.remove('km-flash'), 1500);
  }, true);
}
"""
# An answer quotes every part of a passage it matched, some over 1,000 characters: about this
# many stay open (the top passage's matched part comes first) and the rest fold under one line
# that says how much it holds, so the point is read first and nothing is dropped.
OPEN_CHARS = 300
# Folding less than this would hide a line or two behind a click that saves nothing.
MIN_FOLDED_CHARS = 120

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>$])")


def md_escape(text: str) -> str:
    """Show text literally inside the Markdown chat: no HTML, no Markdown syntax."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _marker_escape(line: str, escape=md_escape) -> str:
    """Escape a cited line (for Markdown, or `html.escape` inside an HTML block, where Markdown
    is not read) but keep its trailing [n] marker as a link."""
    match = re.search(r"\[(\d+)\]$", line)
    if not match:
        return escape(line)
    return escape(line[: match.start()]) + cite_link(int(match.group(1)))


def fold_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """The answer's cited lines split into those shown open (about `OPEN_CHARS`, at least one)
    and those folded; nothing is folded when the rest is shorter than `MIN_FOLDED_CHARS`."""
    used = 0
    for i, line in enumerate(lines):
        if i and used + len(line) > OPEN_CHARS:
            rest = lines[i:]
            return (lines[:i], rest) if sum(map(len, rest)) >= MIN_FOLDED_CHARS else (lines, [])
        used += len(line)
    return lines, []


def cite_link(rank: int) -> str:
    """A clickable [n]: opens passage n under the answer it belongs to."""
    return f'<a class="km-cite" href="#km-src-{rank}">[{rank}]</a>'


def scenario_chip(answer: Answer) -> str:
    """ "场景：议价 · 把握 0.82" for an answer routed by the buyer's scenario, with the other families
    whose templates follow ("也可能：异常物流 0.18、订单核实 0.11"); `other` is shown too, so the
    learner sees why no template leads."""
    scenario = answer.scenario
    if scenario is None:
        return ""
    chip = f"场景：{scenario.label} · 把握 {scenario.confidence:.2f}"
    if answer.alternatives:
        chip += " · 也可能：" + "、".join(f"{s.label} {s.confidence:.2f}" for s in answer.alternatives)
    return f"`{chip}`"


def answer_markdown(answer: Answer) -> str:
    """The assistant's chat message: scenario chip, notices, the cited sentences, a source list."""
    chip = scenario_chip(answer)
    parts = ([chip] if chip else []) + [f"> {md_escape(n)}" for n in answer.notices]
    if answer.abstained:
        parts.append("**教材中没有找到相关内容**")
        # The refusal's own reason (not covered, or a shop's live facts), without the suggestions line.
        parts.append(md_escape(answer.answer.split(f"\n{SUGGESTIONS_LEAD}")[0] or REFUSAL))
        if answer.suggestions:
            parts.append("可以看看这些相近的章节：\n" + "\n".join(f"- {md_escape(s)}" for s in answer.suggestions))
        return "\n\n".join(parts)
    lines = answer.answer.split("\n")
    parts.append(md_escape(lines[0]))
    shown, folded = fold_lines(lines[1:])
    parts.append("\n".join(f"- {_marker_escape(line)}" for line in shown))
    if folded:
        # One line, as the sources below: a blank line would end the HTML block.
        items = "".join(f"<li>{_marker_escape(line, html.escape)}</li>" for line in folded)
        parts.append(
            f"<details class='km-more'><summary>展开其余 {len(folded)} 句引文（约 {sum(map(len, folded))} 字）</summary>"
            f"<ul>{items}</ul></details>"
        )
    sources = []
    for c in answer.citations[:3]:
        page = f" · 第 {c.page} 页" if c.page else ""
        sources.append(f"{cite_link(c.rank)} {c.label} · {md_escape(c.title)}{page}")
    parts.append(
        "**来源**<span class='km-wide'>（全文见右侧，点 [n] 在这里展开）</span>"
        "<span class='km-narrow'>（点 [n] 或下面的标题展开原文）</span>：  \n" + "  \n".join(sources)
    )
    # One line: a blank line would end the Markdown HTML block and let the text be parsed as Markdown.
    parts.append("<div class='km-inline-sources'>" + "".join(_source_block(c, inline=True) for c in answer.citations) + "</div>")
    return "\n\n".join(parts)


# What a passage is, when it is not the book: said under its title, every time.
_NOTES = {
    "supplement": "（本工具编写的补充内容，不是教材原文）",
    "template": "（本工具编写的补充内容，不是教材原文）",
    "teacher": "（教师上传的资料，不是教材原文）",
}


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
    return "".join(_source_block(c) for c in answer.citations)


def _source_block(c, inline: bool = False) -> str:
    """One cited passage as an expandable block, quoted sentences highlighted; `inline` for the
    copy under an answer in the chat (closed, and on one line: see `answer_markdown`)."""
    text = html.escape(c.text)
    for sentence in c.quoted:
        escaped = html.escape(sentence)
        text = text.replace(escaped, f"<mark>{escaped}</mark>", 1)
    page = f" · 第 {c.page} 页" if c.page else ""
    note = _NOTES.get(c.source, "")
    opened = " open" if c.rank == 1 and not inline else ""
    css = f"km-source km-src-{c.rank}"
    if inline:
        text = text.replace("\n", "<br>")
    return (
        f"<details class='{css}' data-rank='{c.rank}'{opened}>"
        f"<summary>[{c.rank}] <span class='km-label km-{html.escape(c.source)}'>{html.escape(c.label)}</span>"
        f"{html.escape(c.title)}{page}</summary>"
        f"<div class='km-note'>{note}</div><div class='km-text'>{text}</div></details>"
    )


def _basis_text(basis) -> str:
    """ "教材原文 · 模块一 › … · 第 3 页", unescaped."""
    page = f" · 第 {basis.page} 页" if basis.page else ""
    return f"{basis.label} · {basis.title}{page}"


def basis_markdown(basis) -> str:
    """ "依据：教材原文 · 模块一 › … · 第 3 页" for a drill item's or quiz answer's passage."""
    return f"依据：{md_escape(_basis_text(basis))}" if basis is not None else ""


def grade_markdown(grade: Grade) -> str:
    """A drill reply's score with the one thing to fix first, then item by item, each with its basis."""
    lines = [
        f"### 得分：{grade.score:.0f} / 100",
        "",
        f"**先改这一点**：{md_escape(grade.advice)}",
        "",
        "| 评分项 | 结果 | 得分 | 说明 | 依据 |",
        "|---|---|---|---|---|",
    ]
    kinds = {"relevance": "回应", "key_points": "要点", "form": "形式", "required": "应包含", "forbidden": "不应出现"}
    for item in grade.items:
        if item.kind == "forbidden" and item.passed:
            continue  # only violations are worth a line
        verdict = verdict_html(item.passed, "通过", "违规" if item.kind == "forbidden" else "未做到")
        lines.append(
            f"| {kinds[item.kind]}：{md_escape(item.label)} | {verdict} | {item.points:.0f} | {md_escape(item.evidence)} | {basis_markdown(item.basis)} |"
        )
    clean = [i.label for i in grade.items if i.kind == "forbidden" and i.passed]
    lines.append("")
    lines.append(
        f"没有出现禁止的内容（{md_escape('、'.join(clean))}）。"
        if len(clean) == sum(i.kind == "forbidden" for i in grade.items)
        else "标为<span class='km-fail'>违规</span>的内容会让买家不满或违反平台规则：碰到任何一条，这次最多只能得 15 分。"
    )
    lines += [
        "",
        f"**为什么推荐这样回**：{md_escape(grade.scenario.why)}",
        "",
        f"**不要这样说**：{md_escape(grade.scenario.avoid)}",
    ]
    return "\n".join(lines)


def summary_markdown(summary: DrillSummary) -> str:
    """This session's drill scores by family."""
    rows = summary.rows()
    if not rows:
        return "完成一题后，这里会按类别汇总你的得分。"
    lines = ["| 类别 | 练习次数 | 平均分 | 最高分 |", "|---|---|---|---|"]
    lines += [f"| {md_escape(f)} | {n} | {avg:.0f} | {best:.0f} |" for f, n, avg, best in rows]
    return "\n".join(lines)


_QUIZ_KINDS = {
    "fill": "填空题",
    "cloze": "填空题",
    "single": "单选题",
    "multiple": "多选题",
    "short": "简答题",
    "template": "话术选择题",
}
_QUIZ_HINTS = {
    "fill": "多个空用顿号或空格隔开，回车提交",
    "cloze": "回车提交",
    "single": "在下面选一项，再点“提交答案”",
    "multiple": "在下面勾选所有正确的选项，再点“提交答案”",
    "short": "用完整的句子写出要点，回车或点“提交答案”",
    "template": "在下面选一项，再点“提交答案”",
}
_NUMERALS = "一二三四五六七"


def module_label(module: str) -> str:
    """m4 → 模块四."""
    return f"模块{_NUMERALS[int(module[1]) - 1]}" if len(module) == 2 and module[1] in "1234567" else ""


def question_markdown(q: QuizQuestion, n: int, total: int) -> str:
    """A quiz question as shown: number, kind, module, origin and prompt (choices are the radio
    buttons or tick boxes under it), and how to answer."""
    module = module_label(q.module)
    head = f"**第 {n}/{total} 题 · {_QUIZ_KINDS[q.kind]}" + (f" · {module}" if module else "") + f"**（{md_escape(q.origin)}）"
    return f"{head}\n\n{md_escape(q.prompt)}\n\n*{_QUIZ_HINTS[q.kind]}*"


def _task_number(q: QuizQuestion) -> int:
    """The task a question's passage belongs to (m4t2-k3 → 2), the module's exercises and training
    after its tasks, as in the book."""
    match = re.match(r"m\d+t(\d+)", q.basis.toc_id if q.basis else "")
    return int(match.group(1)) if match else 99


def quiz_summary_markdown(questions: list, scores: dict) -> str:
    """The end of a quiz: the score, by section (in the book's order), and the passages to reread
    for what went wrong, each one click from its text."""
    total = len(questions)
    done = {int(k): float(v) for k, v in scores.items() if str(k).isdigit() and int(k) < total}
    lines = [
        f"### 本次测验结束：共 {total} 题，答了 {len(done)} 题，答对 {sum(v >= 0.999 for v in done.values())} 题，"
        f"平均得分 {sum(done.values()) / max(1, len(done)):.0%}",
        "",
        "| 章节 | 题数 | 平均得分 |",
        "|---|---|---|",
    ]
    by_section: dict[tuple[str, int, str], list[float]] = {}
    for i, q in enumerate(questions):
        crumbs = q.basis.title.split(" › ") if q.basis else ["其他"]
        label = " · ".join(filter(None, [module_label(q.module), crumbs[1] if len(crumbs) > 1 else crumbs[0]]))
        by_section.setdefault((q.module, _task_number(q), label), []).append(done.get(i, 0.0))
    lines += [f"| {md_escape(s)} | {len(v)} | {sum(v) / len(v):.0%} |" for (_, _, s), v in sorted(by_section.items())]
    reread = [q for i, q in enumerate(questions) if done.get(i, 0.0) < 0.999 and q.basis]
    if reread:
        lines += ["", "**建议重读**（没答对或没答的题所依据的段落，点开看原文）：", ""]
        seen = set()
        for q in reread:
            if q.basis.title not in seen:
                seen.add(q.basis.title)
                lines.append(
                    f"<details><summary>{html.escape(_basis_text(q.basis))}</summary>"
                    f"<div class='km-text'>{html.escape(q.basis.excerpt).replace(chr(10), '<br>')}</div></details>"
                )
    lines += ["", "点“出题”再来一次（题目顺序和生成的题会不同）。"]
    return "\n".join(lines)


def verdict_html(passed: bool, yes: str = "正确", no: str = "不对") -> str:
    """A verdict in words and colour (no emoji: without an emoji font they render as boxes)."""
    return f"<span class='km-pass'>√ {yes}</span>" if passed else f"<span class='km-fail'>× {no}</span>"


def quiz_feedback_markdown(result, excerpt: str | None = None) -> str:
    """The verdict on one quiz answer, with the key, the learner's sentences that made each point
    (short answers), and the passage it comes from (`excerpt`: with other questions' answers blanked)."""
    q = result.question
    lines = [f"{verdict_html(result.correct)}（得分 {result.score:.0%}）。{md_escape(result.feedback)}"]
    if result.matched:
        lines.append("**你答到的要点**：\n" + "\n".join(f"- {md_escape(p)} ← “{md_escape(said)}”" for p, said in result.matched))
    lines.append(f"**答案**：{md_escape(q.key)}")
    if q.basis:
        lines.append(basis_markdown(q.basis))
        lines.append(f"> {md_escape(q.basis.excerpt if excerpt is None else excerpt)}")
    return "\n\n".join(lines)
