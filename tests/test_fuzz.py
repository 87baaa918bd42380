"""Fuzzing: the parser and the question path either work or say why; they never crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kefu_mentor.errors import CorpusError, QuestionError
from kefu_mentor.pipeline.corpus import load_corpus, parse_markdown

from .conftest import MINI_CORPUS

TOC = load_corpus(MINI_CORPUS).toc
HEADER = (
    "---\nsource: textbook\ntoc: m1t2\ntitle: 任务二 储备网店客服知识\nbook: 网店客服\nmodule: 模块一\npages: [10, 21]\n---\n"
)
PIECES = [
    "# 任务二 储备网店客服知识\n",
    "## 知识储备\n",
    "### 二、平台规则\n",
    "#### 1. 小节\n",
    "##### 深\n",
    "正文一句。\n",
    "\n",
    "(1) 条目。\n",
    "| a | b |\n",
    "<!-- 注 -->\n",
    "---\n",
    "：\n",
    "\x00",
    "\ufeff",
    "#\n",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=20), max_size=25))
def test_markdown_parser_never_crashes(pieces):
    text = HEADER + "".join(pieces)
    try:
        sections = parse_markdown(text, "fuzz.md", TOC, "textbook")
    except CorpusError as exc:
        assert exc.file == "fuzz.md" and "修改方法" in str(exc)
    else:
        assert all(s.text.strip() for s in sections)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_front_matter_fuzz_never_crashes(header):
    try:
        parse_markdown("---\n" + header + "\n---\n# 任务二 储备网店客服知识\n正文。\n", "fuzz.md", TOC, "textbook")
    except CorpusError:
        pass


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=200), history=st.lists(st.text(max_size=50), max_size=3))
def test_question_path_never_crashes(real_mentor, question, history):
    try:
        answer = real_mentor.ask(question, history=history)
    except QuestionError as exc:
        assert "问题" in str(exc)
    else:
        assert answer.abstained or len(answer.citations) >= 1
        assert "\x00" not in answer.resolved_query
