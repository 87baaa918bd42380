"""Instructors' own material: read a .md/.txt/.docx/.pdf, preview it, add it to the corpus, remove it.

An upload becomes one Markdown file in `corpus/teacher/` (front matter `source: teacher`, the
TOC node it belongs under and the original file name), so the index, the check and every
surface treat it like any corpus file and label it 教师资料, never 教材原文. Adding rebuilds the
index, which re-embeds only the new passages (the index being replaced lends its vectors). A
failed rebuild puts the corpus back as it was, so the served index never changes on a bad upload.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import CorpusError, MentorError
from ..pipeline.corpus import parse_markdown, split_front_matter
from ..pipeline.index import Progress, build_index
from ..pipeline.toc import TEACHER_ROOT, TableOfContents
from .redact import redact

KINDS = (".md", ".txt", ".docx", ".pdf")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FOLDER = "teacher"
_NAME = re.compile(r"[^\w\u4e00-\u9fff.-]+")
_MD_HEADING = re.compile(r"^(#{1,6})\s+")


class UploadError(MentorError):
    """An upload that cannot be used: the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Preview:
    """What an upload will become, before anything is written."""

    name: str  # the original file name
    stored: str  # the file it becomes in corpus/teacher/
    under: str  # TOC id
    markdown: str
    sections: tuple[tuple[str, int], ...]  # (breadcrumb, characters) per section


def stored_name(name: str) -> str:
    """The corpus file an upload is kept in: its name made safe, ending in .md."""
    stem = _NAME.sub("_", Path(name).stem).strip("._") or "upload"
    return f"{stem[:80]}.md"


def read_text(path: Path, name: str | None = None) -> str:
    """The upload as Markdown body text (headings kept; a PDF's pages as 第 N 页 headings).

    Raises:
        UploadError: wrong type, too large, encrypted, no text layer, or no usable text.
    """
    path = Path(path)
    name = name or path.name
    kind = Path(name).suffix.lower()
    if kind not in KINDS:
        raise UploadError(f"不支持的文件类型“{kind or '无扩展名'}”。请上传 .md、.txt、.docx 或 .pdf 文件。")
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"文件太大（{size / 1024 / 1024:.1f} MB，上限 {MAX_UPLOAD_BYTES // 1024 // 1024} MB）。请拆成几个小文件再上传。"
        )
    if size == 0:
        raise UploadError(f"文件“{name}”是空的。")
    if kind == ".docx":
        body = _docx(path, name)
    elif kind == ".pdf":
        body = _pdf(path, name)
    else:
        try:
            body = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UploadError(
                f"“{name}”不是 UTF-8 编码的文本。请用 UTF-8 另存后再上传（记事本：另存为 → 编码选 UTF-8）。"
            ) from None
        body = _strip_front_matter(body.replace("\r\n", "\n"))
    body = "\n".join(line.rstrip() for line in body.split("\n")).strip()
    if sum(ch.isalnum() for ch in body) < 10:
        raise UploadError(f"“{name}”里没有可用的文字。")
    return body


def _strip_front_matter(text: str) -> str:
    # Lenient, unlike `corpus.split_front_matter`: an upload's own header is dropped even when it
    # is not valid YAML, since it is never the material.
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[text.find("\n", end + 1) + 1 :]
    return text


def _docx(path: Path, name: str) -> str:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception:  # not a zip, not Word, damaged: all the same to the instructor
        raise UploadError(f"“{name}”无法作为 Word 文档打开（可能已损坏或加密）。请在 Word 中另存为 .docx 后再上传。") from None
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
        level = re.search(r"heading\s*(\d)|标题\s*(\d)", style)
        if level:
            depth = int(level.group(1) or level.group(2))
            lines.append(f"{'#' * min(depth + 1, 6)} {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _pdf(path: Path, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
    except (PdfReadError, OSError, ValueError):
        raise UploadError(f"“{name}”无法作为 PDF 打开（可能已损坏）。") from None
    if reader.is_encrypted:
        raise UploadError(f"“{name}”是加密的 PDF。请先去掉密码（另存为不加密的 PDF）再上传。")
    pages = []
    for number, page in enumerate(reader.pages, 1):
        text = (page.extract_text() or "").strip()
        if text:
            pages.append(f"## 第 {number} 页\n\n{text}")
    if not pages:
        raise UploadError(f"“{name}”没有文字层（可能是扫描件或图片）。请上传可复制文字的 PDF，或先做文字识别（OCR）。")
    return "\n\n".join(pages)


def to_markdown(body: str, name: str, under: str, toc: TableOfContents) -> str:
    """The corpus file for an upload: front matter, a title heading naming the file, the text."""
    title = f"{toc[under].title if under != TEACHER_ROOT else '教师资料'}：{name}"
    lines = _nest_headings(body.split("\n"))
    safe_name = name.replace('"', "'")
    return (
        f'---\nsource: teacher\ntoc: {under}\ntitle: "{title}"\nfile: "{safe_name}"\n---\n\n'
        f"# {toc[under].title}\n\n## 教师资料：{name}\n\n" + "\n".join(lines) + "\n"
    )


def _nest_headings(lines: list[str]) -> list[str]:
    """The file's own headings below the file-name heading (level 3 on), none skipping a level."""
    out, previous = [], 2
    for line in lines:
        match = _MD_HEADING.match(line)
        if not match:
            out.append(line)
            continue
        level = min(len(match.group(1)) + 2, previous + 1, 6)
        level = max(level, 3)
        out.append("#" * level + " " + line[match.end() :].strip())
        previous = level
    return out


def preview(settings: Settings, path: Path, under: str, name: str | None = None) -> Preview:
    """Read an upload and show the sections it would become, changing nothing.

    Raises:
        UploadError: the file cannot be used, or `under` is not a TOC node.
    """
    name = Path(name or Path(path).name).name
    toc = TableOfContents.load(settings.corpus_dir / "toc.yaml")
    if under not in toc:
        raise UploadError(f"目录里没有“{under}”。请从下拉框选择一个章节，或选“教师资料”。")
    body = read_text(path, name)
    # The file name is stored (front matter, title, corpus file name): a buyer's name or number in
    # it ("张三投诉_13812345678.docx") is replaced like anything else written to disk.
    name = redact(Path(name).stem) + Path(name).suffix
    markdown = to_markdown(body, name, under, toc)
    stored = stored_name(name)
    try:
        sections = parse_markdown(markdown, f"corpus/{FOLDER}/{stored}", toc, expected_source="teacher")
    except CorpusError as exc:
        raise UploadError(f"“{name}”的内容无法分节：{exc}") from None
    if not sections:
        raise UploadError(f"“{name}”里没有可用的文字。")
    return Preview(name, stored, under, markdown, tuple((" › ".join(s.breadcrumb), len(s.text)) for s in sections))


def list_uploads(settings: Settings) -> list[tuple[str, str, str]]:
    """(stored file, original name, TOC id) for every upload, by stored name."""
    rows = []
    for path in sorted((settings.corpus_dir / FOLDER).glob("*.md")):
        try:  # the corpus loader's own front-matter reader (a damaged file is still listed, to remove it)
            meta = split_front_matter(path.read_text(encoding="utf-8", errors="replace"), path.name)[0]
        except CorpusError:
            meta = {}
        rows.append((path.name, str(meta.get("file", path.name)), str(meta.get("toc", ""))))
    return rows


def add(settings: Settings, prepared: Preview, *, replace: bool = False, progress: Progress | None = None) -> dict:
    """Write the upload into the corpus and rebuild; on any failure the corpus is put back.

    Returns:
        The new index manifest.

    Raises:
        UploadError: the name is taken (and `replace` is off).
        MentorError: the rebuild failed (the corpus and the served index are as before).
    """
    folder = settings.corpus_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / prepared.stored
    with _one_at_a_time(folder):
        if target.exists() and not replace:
            raise UploadError(f"已经有同名的教师资料“{prepared.stored}”。要替换它请选择“替换”，或先改个文件名。")
        before = target.read_bytes() if target.exists() else None
        staging = folder / f".{prepared.stored}.tmp"
        staging.write_text(prepared.markdown, encoding="utf-8")
        staging.replace(target)
        try:
            return build_index(settings, progress=progress)
        except Exception:
            _restore(target, before)
            raise


def remove(settings: Settings, stored: str, progress: Progress | None = None) -> dict:
    """Remove one upload and rebuild; on a failed rebuild the file is put back.

    Raises:
        UploadError: no such upload.
    """
    target = settings.corpus_dir / FOLDER / Path(stored).name
    if not target.is_file():
        names = "、".join(r[0] for r in list_uploads(settings)) or "（没有）"
        raise UploadError(f"没有名为“{stored}”的教师资料。现有：{names}")
    with _one_at_a_time(target.parent):
        before = target.read_bytes()
        target.unlink()
        try:
            return build_index(settings, progress=progress)
        except Exception:
            _restore(target, before)
            raise


@contextmanager
def _one_at_a_time(folder: Path):
    """One change to the uploads at a time, across processes (two instructors, two replicas)."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder / ".uploads.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UploadError("另一位老师正在添加或删除资料，请等一会儿再试。") from None
    try:
        yield
    finally:
        lock.release()


def _restore(target: Path, before: bytes | None) -> None:
    if before is None:
        target.unlink(missing_ok=True)
    else:
        target.write_bytes(before)
