"""Load and validate the corpus: Markdown files with front matter, and reply templates.

Every problem is reported as a `CorpusError` naming the file, the line and the fix, so a
teacher editing by hand knows exactly what to change.
"""

from __future__ import annotations

import errno
import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from ..errors import CorpusError
from ..schema import Section
from .toc import TableOfContents, normalize_title

MARKDOWN_SOURCES = ("textbook", "supplement", "teacher")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TEMPLATE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TEMPLATE_KEYS = ("id", "toc", "scenario", "buyer_says", "reply", "why", "avoid")
FOLLOW_UP_KEYS = ("buyer", "reply", "avoid")  # the optional second turn of a drill
STAGES = ("售前", "售中", "售后", "客户关系")


@dataclass(frozen=True)
class Corpus:
    """Everything read from `corpus/`: the TOC, the sections, and a hash of the files."""

    toc: TableOfContents
    sections: tuple[Section, ...]
    files: tuple[str, ...]
    digest: str


# A corpus file larger than this is refused with a message: the whole book is about 1 MB, and a
# mistaken drop of a PDF dump or a log should not stall every build.
MAX_FILE_BYTES = 5 * 1024 * 1024


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The files that make up the corpus, in a stable order.

    Raises:
        CorpusError: an entry named like a corpus file is not a readable regular file (a folder,
            a broken or looping symlink) or is over `MAX_FILE_BYTES`.
    """
    files = [corpus_dir / "toc.yaml"]
    files += sorted((corpus_dir / "textbook").glob("*.md"))
    files += sorted((corpus_dir / "supplement").glob("*.md"))
    files += sorted((corpus_dir / "teacher").glob("*.md"))  # instructors' uploads (modes.uploads)
    files += sorted((corpus_dir / "templates").glob("*.yaml"))
    files += sorted((corpus_dir / "situations").glob("*.yaml"))
    files += sorted((corpus_dir / "scenarios").glob("*.yaml"))
    return [f for f in files if _checked(f, corpus_dir)]


def _checked(path: Path, corpus_dir: Path) -> bool:
    """True for a usable corpus file, False when it is simply absent; otherwise say what is wrong."""
    rel = _rel(path, corpus_dir)
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:  # Python < 3.13 reports a loop this way
            raise CorpusError(rel, None, "这是一个循环的符号链接（指向它自己）", "删除这个链接，或让它指向真正的文件") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CorpusError(
                    rel, None, "这是一个循环的符号链接（指向它自己）", "删除这个链接，或让它指向真正的文件"
                ) from None
            raise CorpusError(rel, None, "这是一个符号链接，但它指向的文件不存在", "删除这个链接，或让它指向真正的文件") from None
    if not path.exists():
        return False
    if not path.is_file():
        raise CorpusError(rel, None, "名字像语料文件，但它不是普通文件（是文件夹或特殊文件）", "把它改名，或移出 corpus/")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CorpusError(
            rel,
            None,
            f"文件太大（{size / 1024 / 1024:.1f} MB，上限 {MAX_FILE_BYTES // 1024 // 1024} MB）",
            "把它拆成几个小文件，或只保留正文",
        )
    return True


def _rel(path: Path, corpus_dir: Path) -> str:
    try:
        return path.relative_to(corpus_dir.parent).as_posix()
    except ValueError:
        return path.as_posix()


def _read_bytes(path: Path, rel: str) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise CorpusError(rel, None, "没有权限读取这个文件", f"让运行本程序的用户能读它，例如 chmod a+r {path}") from None
    except OSError as exc:
        raise CorpusError(rel, None, f"文件无法读取（{exc.strerror or exc}）", "检查文件是否完好，或从备份恢复") from None


def corpus_digest(corpus_dir: Path) -> str:
    """A hash of every corpus file's name and bytes: changes whenever the corpus does."""
    digest = hashlib.sha256()
    for path in corpus_files(corpus_dir):
        digest.update(path.relative_to(corpus_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(_read_bytes(path, _rel(path, corpus_dir)))
        digest.update(b"\0")
    return digest.hexdigest()


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read and validate the whole corpus.

    Raises:
        CorpusError: the first problem found, with file, line and fix.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(corpus_dir, None, "语料目录不存在", "请在项目根目录运行，或用 --corpus 指定语料目录")
    toc = TableOfContents.load(corpus_dir / "toc.yaml")
    sections: list[Section] = []
    template_ids: set[str] = set()
    files = corpus_files(corpus_dir)
    situations: list[Path] = []
    for path in files[1:]:
        rel = path.relative_to(corpus_dir.parent).as_posix()
        if path.parent.name == "situations":
            situations.append(path)
            continue
        if path.parent.name == "scenarios":
            continue  # training lines for the scenario recogniser (scenario.training_set)
        text = _read_utf8(path, rel)
        if path.suffix == ".md":
            expected = path.parent.name  # textbook/, supplement/ or teacher/
            sections.extend(parse_markdown(text, rel, toc, expected_source=expected))
        else:
            sections.extend(parse_templates(text, rel, toc, template_ids))
    if not sections:
        raise CorpusError(corpus_dir, None, "语料为空：没有任何正文", "请在 corpus/textbook/ 下放入教材 Markdown 文件")
    for path in situations:
        sections = attach_situations(
            sections,
            _read_utf8(path, path.relative_to(corpus_dir.parent).as_posix()),
            path.relative_to(corpus_dir.parent).as_posix(),
        )
    return Corpus(toc, tuple(sections), tuple(p.as_posix() for p in files), corpus_digest(corpus_dir))


def attach_situations(sections: list[Section], text: str, rel: str) -> list[Section]:
    """Add the situation phrasings of `corpus/situations/*.yaml` to the book sections or cards they name.

    They are our own writing: ways a new agent describes a situation that a book section
    answers. They are searched, never shown or cited as the book's words.
    """
    try:
        data = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CorpusError(rel, 1 + mark.line if mark else 1, "不是合法的 YAML", "检查冒号后的空格和缩进") from None
    if not isinstance(data, list):
        raise CorpusError(rel, 1, "情境文件应是列表", "每项写 section: 面包屑 和 asks: [说法…]")
    lines = text.split("\n")
    by_crumb = {" › ".join(s.breadcrumb): i for i, s in enumerate(sections) if s.source in ("textbook", "supplement")}
    out = list(sections)
    for item in data:
        crumb = str(item.get("section", "")) if isinstance(item, dict) else ""
        line = _line_of(lines, crumb) if crumb else None
        if crumb not in by_crumb:
            raise CorpusError(
                rel,
                line,
                f"找不到教材小节或知识卡片“{crumb}”",
                "section 要与教材小节或卡片的面包屑完全一致（kefu-mentor check-corpus 会列出全部小节）",
            )
        asks = item.get("asks")
        if not isinstance(asks, list) or not all(isinstance(a, str) and a.strip() for a in asks):
            raise CorpusError(rel, line, f"“{crumb}”的 asks 应是文字列表", "每条写一种说法")
        i = by_crumb[crumb]
        out[i] = replace(out[i], asks=out[i].asks + tuple(a.strip() for a in asks))
    return out


def _read_utf8(path: Path, rel: str) -> str:
    raw = _read_bytes(path, rel)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusError(rel, line, "文件不是 UTF-8 编码", "请用 UTF-8 编码另存这个文件（不要用 GBK/ANSI）") from None
    return text.lstrip("\ufeff").replace("\r\n", "\n")


def split_front_matter(text: str, rel: str) -> tuple[dict, str, int]:
    """Return (front matter, body, line number where the body starts)."""
    if not text.startswith("---\n"):
        raise CorpusError(rel, 1, "缺少 front matter", "文件第一行应为 ---，接着写 source、toc、title 等字段，再以 --- 结束")
    end = text.find("\n---", 4)
    if end == -1:
        raise CorpusError(rel, 1, "front matter 没有结束标记", "在字段之后单独一行写 ---")
    header = text[4:end]
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        raise CorpusError(
            rel, line, f"front matter 不是合法的 YAML（{getattr(exc, 'problem', exc)}）", "检查冒号后的空格和缩进"
        ) from None
    if not isinstance(meta, dict):
        raise CorpusError(rel, 2, "front matter 应是“键: 值”的形式", "例如 source: textbook")
    body_start = text.find("\n", end + 1)
    body = text[body_start + 1 :] if body_start != -1 else ""
    body_line = text[: body_start + 1].count("\n") + 1 if body_start != -1 else header.count("\n") + 3
    return meta, body, body_line


def _field_lines(text: str) -> dict[str, int]:
    """The line of each front-matter key (`toc: m1t2` on line 3 → {"toc": 3}), so errors point at it."""
    lines = {}
    for number, line in enumerate(text.split("\n")[1:], 2):
        if line.strip() == "---":
            break
        key = line.split(":", 1)[0].strip()
        if ":" in line and key and key not in lines:
            lines[key] = number
    return lines


def _check_meta(
    meta: dict, rel: str, toc: TableOfContents, expected_source: str | None, lines: dict[str, int] | None = None
) -> None:
    line = (lines or {}).get
    source = meta.get("source")
    if source not in MARKDOWN_SOURCES:
        raise CorpusError(
            rel, line("source", 2), f"未知的 source 类型：{source!r}", "source 只能是 textbook、supplement 或 teacher"
        )
    if expected_source and source != expected_source:
        raise CorpusError(
            rel,
            2,
            f"source 为 {source}，但文件放在 {expected_source}/ 目录",
            f"把 source 改为 {expected_source}，或把文件移到 {source}/ 目录",
        )
    for key in ("toc", "title"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise CorpusError(rel, line(key, 2), f"front matter 缺少字段 {key}", f"添加 {key}: …（见 docs/corpus-format.md）")
    if source == "teacher" and not isinstance(meta.get("file"), str):
        raise CorpusError(rel, line("file", 2), "教师资料缺少字段 file（上传时的文件名）", "添加 file: 原文件名")
    if meta["toc"] not in toc:
        raise CorpusError(rel, line("toc", 2), f"toc: {meta['toc']} 不在目录 toc.yaml 中", "改成 toc.yaml 里存在的 id，例如 m1t2")
    if source == "textbook":
        for key in ("book", "module"):
            if not isinstance(meta.get(key), str):
                raise CorpusError(rel, line(key, 2), f"教材文件缺少字段 {key}", f"添加 {key}: …")
        pages = meta.get("pages")
        if pages is None and "pages" in meta:
            return  # front matter without Arabic page numbers (前言)
        if not (isinstance(pages, list) and len(pages) == 2 and all(isinstance(p, int) for p in pages) and pages[0] <= pages[1]):
            raise CorpusError(rel, line("pages", 2), f"pages 应为 [起始页, 结束页]，现在是 {pages!r}", "例如 pages: [10, 21]")


def parse_markdown(text: str, rel: str, toc: TableOfContents, expected_source: str | None = None) -> list[Section]:
    """Split one Markdown corpus file into sections, one per heading path with body text."""
    meta, body, first_line = split_front_matter(text, rel)
    _check_meta(meta, rel, toc, expected_source, _field_lines(text))
    source, anchor = meta["source"], meta["toc"]
    # Blank out editors' comments but keep line numbers right.
    body = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), body)

    sections: list[Section] = []
    # Each stack entry: (level, title, toc node id or None, line).
    stack: list[tuple[int, str, str | None, int]] = []
    buffer: list[str] = []
    buffer_line = 0
    pending_empty: tuple[str, int] | None = None

    def current_place() -> tuple[str, tuple[str, ...]]:
        toc_id, extra = anchor, []
        for _, title, node_id, _ in stack:
            if node_id is not None:
                toc_id, extra = node_id, []
            else:
                extra.append(title)
        crumbs = toc.breadcrumb(toc_id) + tuple(extra)
        return toc_id, crumbs

    def flush() -> None:
        nonlocal buffer
        content = "\n".join(buffer).strip()
        buffer = []
        if not content:
            return
        if not stack:
            raise CorpusError(rel, buffer_line, "正文出现在第一个标题之前", "在正文前加上标题，例如 # 任务一 …")
        toc_id, crumbs = current_place()
        page = toc.page_of(toc_id) if source == "textbook" else None
        sections.append(Section(source, toc_id, crumbs, page, content, rel, buffer_line))

    lines = body.split("\n")
    for offset, line in enumerate(lines):
        lineno = first_line + offset
        match = _HEADING.match(line)
        if not match:
            if line.strip() and not buffer:
                buffer_line = lineno
            if line.strip() or buffer:
                buffer.append(line)
            continue
        had_text = bool("\n".join(buffer).strip())
        flush()
        level, title = len(match.group(1)), match.group(2).strip()
        if not stack and level != 1:
            raise CorpusError(rel, lineno, f"第一个标题应是一级标题（# ），现在是 {'#' * level}", "把它改成 # 开头")
        if stack and level > stack[-1][0] + 1:
            raise CorpusError(
                rel,
                lineno,
                f"标题层级跳级：从 {'#' * stack[-1][0]} 直接到 {'#' * level}",
                f"改成 {'#' * (stack[-1][0] + 1)} 或补上中间一级标题",
            )
        if pending_empty and not had_text and level <= stack[-1][0]:
            # The previous heading had no text, and this one is not its child.
            raise CorpusError(rel, pending_empty[1], f"标题“{pending_empty[0]}”下面没有正文", "补上正文，或删除这个空标题")
        if level == 1 and stack:
            raise CorpusError(rel, lineno, "一个文件只能有一个一级标题", "把它改成 ## 开头")
        while stack and stack[-1][0] >= level:
            stack.pop()
        if level == 1:
            if source == "textbook" and normalize_title(title) != normalize_title(toc[anchor].title):
                raise CorpusError(
                    rel,
                    lineno,
                    f"一级标题“{title}”与目录中 {anchor} 的标题“{toc[anchor].title}”不一致",
                    "让一级标题与 toc.yaml 中的标题相同",
                )
            node_id = anchor
        else:
            scope = next((n for _, _, n, _ in reversed(stack) if n is not None), anchor)
            found = toc.find_below(scope, title) or toc.find_below(anchor, title)
            node_id = found.id if found else None
            if source == "supplement" and level == 2 and node_id is None:
                raise CorpusError(
                    rel, lineno, f"二级标题“{title}”不是 {anchor} 下的目录小节", "二级标题要与 toc.yaml 中该任务下的小节标题一致"
                )
        stack.append((level, title, node_id, lineno))
        pending_empty = (title, lineno)
    had_text = bool("\n".join(buffer).strip())
    flush()
    if pending_empty and not had_text:
        raise CorpusError(rel, pending_empty[1], f"标题“{pending_empty[0]}”下面没有正文", "补上正文，或删除这个空标题")
    if not stack:
        raise CorpusError(rel, first_line, "文件没有任何标题", "至少写一个 # 一级标题")
    return sections


def render_template(template: Template) -> str:
    """The passage shown for a reply template, in the order an agent reads it."""
    said = "；".join(f"“{s}”" for s in template.buyer_says)
    return (
        f"场景：{template.scenario}\n"
        f"买家可能这样说：{said}\n"
        f"推荐回复：{template.reply}\n"
        f"为什么这样回：{template.why}\n"
        f"不要这样说：{template.avoid}"
    )


@dataclass(frozen=True)
class FollowUp:
    """What the buyer says next after the recommended reply, and the reply to that (drills' second turn)."""

    buyer: str
    reply: str
    avoid: str


@dataclass(frozen=True)
class Template:
    """One validated reply template, as written in `corpus/templates/*.yaml`."""

    id: str
    family: str
    stage: str
    toc: str
    scenario: str
    buyer_says: tuple[str, ...]
    reply: str
    why: str
    avoid: str
    file: str
    line: int
    follow_up: FollowUp | None = None  # not part of the passage the index searches


def read_templates(text: str, rel: str, toc: TableOfContents, seen_ids: set[str] | None = None) -> list[Template]:
    """Read and validate one YAML file of reply templates.

    Raises:
        CorpusError: the first problem, with file, line and fix.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CorpusError(
            rel,
            None if mark is None else mark.line + 1,
            f"不是合法的 YAML（{getattr(exc, 'problem', exc)}）",
            "检查缩进、冒号和引号",
        ) from None
    if not isinstance(data, dict) or data.get("source") != "template":
        raise CorpusError(rel, 1, "话术文件顶层应有 source: template", "在文件开头写 source: template、family、stage、templates")
    family, stage = data.get("family"), data.get("stage")
    if not isinstance(family, str) or stage not in STAGES:
        raise CorpusError(rel, 1, f"family 或 stage 缺失/不合法（stage={stage!r}）", f"stage 只能是 {'/'.join(STAGES)}")
    items = data.get("templates")
    if not isinstance(items, list) or not items:
        raise CorpusError(rel, 1, "templates 列表为空", "至少写一条话术")
    lines = text.split("\n")
    templates = []
    for item in items:
        line = _line_of(lines, f"id: {item.get('id')}") if isinstance(item, dict) else None
        if not isinstance(item, dict):
            raise CorpusError(rel, None, f"话术条目格式不对：{item!r}", "每条话术是一个带 id、toc、scenario… 的映射")
        missing = [k for k in TEMPLATE_KEYS if not item.get(k)]
        if missing:
            raise CorpusError(
                rel, line, f"话术 {item.get('id', '?')} 缺少字段 {', '.join(missing)}", "补全这些字段（见 docs/corpus-format.md）"
            )
        if not _TEMPLATE_ID.match(str(item["id"])):
            raise CorpusError(rel, line, f"话术 id“{item['id']}”不合法", "只用小写字母、数字和连字符，例如 cuifu-001")
        if seen_ids is not None:
            if item["id"] in seen_ids:
                raise CorpusError(rel, line, f"话术 id 重复：{item['id']}", "给它换一个唯一的 id")
            seen_ids.add(item["id"])
        if item["toc"] not in toc:
            raise CorpusError(rel, line, f"话术 {item['id']} 的 toc: {item['toc']} 不在目录中", "改成 toc.yaml 里存在的 id")
        said = item["buyer_says"]
        if not isinstance(said, list) or len(said) < 3 or not all(isinstance(s, str) and s.strip() for s in said):
            raise CorpusError(rel, line, f"话术 {item['id']} 的 buyer_says 至少要 3 种说法", "补充买家的不同问法")
        for key in ("scenario", "reply", "why", "avoid"):
            if not isinstance(item[key], str):
                raise CorpusError(rel, line, f"话术 {item['id']} 的 {key} 应为文字", "写成一段文字")
        follow_up = item.get("follow_up")
        if follow_up is not None and not (
            isinstance(follow_up, dict)
            and all(isinstance(follow_up.get(k), str) and follow_up[k].strip() for k in FOLLOW_UP_KEYS)
        ):
            raise CorpusError(
                rel, line, f"话术 {item['id']} 的 follow_up 不完整", f"follow_up 下要有 {'、'.join(FOLLOW_UP_KEYS)} 三项文字"
            )
        templates.append(
            Template(
                str(item["id"]),
                family,
                stage,
                item["toc"],
                item["scenario"],
                tuple(s.strip() for s in said),
                item["reply"].strip(),
                item["why"],
                item["avoid"],
                rel,
                line or 1,
                FollowUp(*(follow_up[k].strip() for k in FOLLOW_UP_KEYS)) if follow_up else None,
            )
        )
    return templates


def parse_templates(text: str, rel: str, toc: TableOfContents, seen_ids: set[str] | None = None) -> list[Section]:
    """Read one YAML file of reply templates into sections (one per template)."""
    return [
        Section(
            "template",
            t.toc,
            toc.breadcrumb(t.toc) + (f"话术：{t.scenario}",),
            None,
            render_template(t),
            t.file,
            t.line,
            buyer_says=t.buyer_says,
            reply=t.reply,
            family=t.family,
        )
        for t in read_templates(text, rel, toc, seen_ids)
    ]


def load_templates(corpus_dir: Path) -> list[Template]:
    """Every reply template of the corpus, validated as `load_corpus` does."""
    corpus_dir = Path(corpus_dir)
    toc = TableOfContents.load(corpus_dir / "toc.yaml")
    seen: set[str] = set()
    templates = []
    for path in sorted((corpus_dir / "templates").glob("*.yaml")):
        rel = path.relative_to(corpus_dir.parent).as_posix()
        templates.extend(read_templates(_read_utf8(path, rel), rel, toc, seen))
    return templates


def _line_of(lines: list[str], needle: str) -> int | None:
    for i, line in enumerate(lines, 1):
        if needle in line:
            return i
    return None
