"""Sections → chunks: heading-aware, size-bounded on Chinese sentence ends, stable ids."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ..config import ChunkerSettings
from ..schema import Chunk, Section

# Order matters: paragraphs first, then lines, then sentence ends. No "" separator, so a
# sentence is never cut in half even when it is longer than the limit.
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；"]
_NUMBERED_ITEM = re.compile(r"^\s*[（(](\d+)[）)]\s*")
_ITEM_TITLE = re.compile(r"^\s*[（(](\d+)[）)]\s*([^。：:，,；\n]{1,16})[。：:]")
_LEAD_IN = re.compile(r"[：:]\s*$|以下几[个点种方面]|如下")
_CAPTION = re.compile(r"^\*(.+)\*$")
_SOURCE_PREFIX = {"textbook": "tb", "supplement": "sp", "template": "tp", "teacher": "tc"}


def chunk_sections(sections: Iterable[Section], settings: ChunkerSettings) -> list[Chunk]:
    """Cut the corpus into the passages that are cited, each searchable by its small parts.

    Book text and our cards are cited by topic (small-to-big, `settings.topic_sources`): every
    section under one TOC node, with its lead-in and sub-headings (a card's title), becomes one
    passage when the whole fits in `settings.unit_chars`; each of its sentence-bounded pieces
    stays an embedding view, so a question matches a single item or card while the answer shows
    it with its lead-in and siblings. A topic too long for one passage is cut per section.

    Args:
        sections: sections in corpus order.
        settings: size limits (characters).

    Returns:
        Chunks in corpus order, with ids that depend only on source, place and text.
    """
    splitter = RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=settings.max_chars,
        chunk_overlap=0,
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for unit in _topics(list(sections), settings):
        if len(unit) > 1 or (unit[0].source in settings.topic_sources and len(_plain(unit[0].text)) <= settings.unit_chars):
            chunks.append(_topic_chunk(unit, splitter, settings, seen))
            continue
        section = unit[0]
        if section.source == "template":
            # A template is one scenario: never split it.
            pieces = [section.text]
        else:
            pieces = _split_section(_plain(section.text), splitter, settings)
        for piece in pieces:
            crumbs = section.breadcrumb
            if len(pieces) > 1:
                crumbs = crumbs + _item_crumb(piece)
            chunk_id = _stable_id(section.source, crumbs, piece, seen)
            chunks.append(
                Chunk(
                    chunk_id,
                    section.source,
                    section.toc_id,
                    crumbs,
                    section.page,
                    piece,
                    section.file,
                    section.line,
                    section.buyer_says,
                    section.reply,
                    section.family,
                    asks=section.asks,
                )
            )
    return chunks


def _topics(sections: list[Section], settings: ChunkerSettings) -> list[list[Section]]:
    """Consecutive sections of one source and TOC node, grouped when their text fits one passage."""
    units: list[list[Section]] = []
    for section in sections:
        last = units[-1] if units else None
        if (
            last
            and section.source in settings.topic_sources
            and last[0].source == section.source
            and last[0].toc_id == section.toc_id
            and last[0].file == section.file
        ):
            last.append(section)
        else:
            units.append([section])
    out: list[list[Section]] = []
    for unit in units:
        size = sum(len(_plain(s.text)) for s in unit)
        out.extend([unit] if unit[0].source in settings.topic_sources and size <= settings.unit_chars else [[s] for s in unit])
    return out


def _topic_chunk(
    unit: list[Section], splitter: RecursiveCharacterTextSplitter, settings: ChunkerSettings, seen: dict[str, int]
) -> Chunk:
    """One passage for a whole topic; its pieces (with their own headings) are extra views."""
    prefix = _common_prefix([s.breadcrumb for s in unit])
    parts, views, ask_parts = [], [], []
    for section in unit:
        text = _plain(section.text)
        heading = " › ".join(section.breadcrumb[len(prefix) :])
        ask_parts += [heading] * len(section.asks)
        parts.append(f"{heading}\n{text}" if heading else text)
        pieces = _split_section(text, splitter, settings)
        for piece in pieces:
            crumbs = section.breadcrumb + (_item_crumb(piece) if len(pieces) > 1 else ())
            views.append(f"{' › '.join(crumbs)}\n{piece}")
    first = unit[0]
    text = "\n\n".join(parts)
    own_view = f"{' › '.join(prefix)}\n{text}"
    return Chunk(
        _stable_id(first.source, prefix, text, seen),
        first.source,
        first.toc_id,
        prefix,
        first.page,
        text,
        first.file,
        first.line,
        pieces=tuple(v for v in dict.fromkeys(views) if v != own_view),
        asks=tuple(a for s in unit for a in s.asks),
        ask_parts=tuple(ask_parts) if any(ask_parts) else (),
    )


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def _plain(text: str) -> str:
    """Figure captions are written *in italics* in Markdown; the book prints them plain."""
    return "\n".join(_CAPTION.sub(r"\1", line.strip()) if line.strip() else "" for line in text.split("\n"))


def _units(text: str) -> list[str]:
    """Paragraphs, with a lead-in glued to the first item it introduces and a table kept whole."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    units: list[str] = []
    glue_next = False
    for para in paragraphs:
        is_table = para.startswith("|")
        starts_item = bool(_NUMBERED_ITEM.match(para))
        if units and (glue_next or (is_table and units[-1].startswith("表"))):
            units[-1] = units[-1] + "\n" + para
        else:
            units.append(para)
        glue_next = bool(_LEAD_IN.search(para)) and not starts_item and not is_table
        # A caption line ("表 1-4 …") goes with the table that follows it.
        if re.match(r"^表\s*\d+-\d+", para) and len(para) < 40:
            glue_next = True
    return units


def _split_section(text: str, splitter: RecursiveCharacterTextSplitter, settings: ChunkerSettings) -> list[str]:
    if len(text) <= settings.max_chars:
        return [text]
    units = _units(text)
    # Units are joined by blank lines so the splitter packs whole units before it has to
    # fall back to line and sentence boundaries inside one.
    pieces = splitter.split_text("\n\n".join(units))
    merged: list[str] = []
    for piece in pieces:
        if merged and len(piece) < settings.min_chars and len(merged[-1]) + len(piece) <= settings.max_chars * 1.3:
            merged[-1] = merged[-1] + "\n" + piece
        else:
            merged.append(piece)
    return merged


def _item_crumb(piece: str) -> tuple[str, ...]:
    """A piece that holds exactly one titled item, "(2) 功效。…", is labelled with it."""
    starts = [line for line in piece.split("\n") if _NUMBERED_ITEM.match(line)]
    match = _ITEM_TITLE.match(piece)
    if match and len(starts) == 1:
        return (f"({match.group(1)}) {match.group(2).strip()}",)
    return ()


def _stable_id(source: str, crumbs: tuple[str, ...], text: str, seen: dict[str, int]) -> str:
    digest = hashlib.sha1(f"{source}\n{' › '.join(crumbs)}\n{text}".encode()).hexdigest()[:12]
    base = f"{_SOURCE_PREFIX.get(source, source[:2])}-{digest}"
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


def find_passage(chunks: list[Chunk], toc: str, heading: str, sources: tuple[str, ...]) -> tuple[Chunk, str] | None:
    """The passage under TOC node `toc` (or below it) whose breadcrumb or sub-headings hold
    `heading`, trying `sources` in order; with the part of its text from that heading on.

    One lookup for everything that cites a rule's basis (quiz keys, drill rubric items).
    """
    for source in sources:
        for chunk in chunks:
            if chunk.source != source or not (chunk.toc_id == toc or chunk.toc_id.startswith(toc + "-")):
                continue
            if heading in chunk.title:
                return chunk, chunk.text
            parts = _part_headings(chunk)
            for line_start, line in _line_starts(chunk.text):
                if heading in line and (_is_heading_line(line) or line in parts):
                    return chunk, chunk.text[line_start:]
    return None


def _part_headings(chunk: Chunk) -> set[str]:
    """The headings of a topic passage's parts (a card's title inside its subsection's passage),
    as its pieces' breadcrumbs name them below the passage's own."""
    lead = chunk.title + " › "
    return {view.split("\n", 1)[0][len(lead) :].split(" › ")[0] for view in chunk.pieces if view.startswith(lead)}


def _line_starts(text: str):
    start = 0
    for line in text.split("\n"):
        yield start, line
        start += len(line) + 1


def _is_heading_line(line: str) -> bool:
    """A sub-heading inside a topic passage: short, numbered, no sentence end."""
    return (
        len(line) <= 40
        and not line.rstrip().endswith(("。", "！", "？", "；"))
        and bool(re.match(r"^(\d+\.|[（(]\d+[）)]|[一二三四五六七八九十]+、)", line.strip()))
    )
