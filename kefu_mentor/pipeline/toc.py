"""The book's table of contents (`corpus/toc.yaml`): breadcrumbs, pages, coverage."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import CorpusError

_SPACE = re.compile(r"\s+")
# A top-level node for instructors' material that belongs to no book section (not a subsection
# the book has, so coverage leaves it out).
TEACHER_ROOT = "teacher"
TEACHER_TITLE = "教师资料"


def normalize_title(title: str) -> str:
    """Compare titles the way a reader would: ignore spaces, markup and full/half-width quirks."""
    title = title.replace("*", "").replace("（", "(").replace("）", ")")
    return _SPACE.sub("", title)


@dataclass(frozen=True)
class TocNode:
    id: str
    title: str
    page: int | None
    parent: str | None
    children: tuple[str, ...]
    depth: int
    order: int


class TableOfContents:
    """All TOC nodes by id, in book order."""

    def __init__(self, nodes: dict[str, TocNode], book: dict):
        self.nodes = nodes
        self.book = book
        self._ordered = sorted(nodes.values(), key=lambda n: n.order)

    @classmethod
    def load(cls, path: Path | str) -> TableOfContents:
        """Read and validate `toc.yaml`.

        Raises:
            CorpusError: naming the file and the entry that is wrong.
        """
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CorpusError(path, None, "找不到目录文件", "请在 corpus/ 下放置 toc.yaml（见 docs/corpus-format.md）") from None
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise CorpusError(path, None if line is None else line + 1, f"YAML 格式错误：{exc}", "请检查缩进和冒号") from None
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
            raise CorpusError(path, None, "缺少 nodes 列表", "toc.yaml 顶层应有 book: 和 nodes:")
        nodes: dict[str, TocNode] = {}
        counter = iter(range(1_000_000))

        def walk(items: list, parent: str | None, depth: int) -> tuple[str, ...]:
            ids = []
            for item in items:
                if not isinstance(item, dict) or "id" not in item or "title" not in item:
                    raise CorpusError(path, None, f"目录条目格式不对：{item!r}", "每个条目需要 id 和 title")
                node_id = str(item["id"])
                if node_id in nodes:
                    raise CorpusError(path, None, f"目录 id 重复：{node_id}", "每个 id 只能出现一次")
                page = item.get("page")
                if page is not None and not isinstance(page, int):
                    raise CorpusError(path, None, f"{node_id} 的 page 不是整数：{page!r}", "page 写成整数，如 13")
                order = next(counter)
                children = walk(item.get("children") or [], node_id, depth + 1)
                nodes[node_id] = TocNode(node_id, str(item["title"]), page, parent, children, depth, order)
                ids.append(node_id)
            return tuple(ids)

        walk(data["nodes"], None, 0)
        if TEACHER_ROOT not in nodes:  # where uploads go that belong to no book section
            nodes[TEACHER_ROOT] = TocNode(TEACHER_ROOT, TEACHER_TITLE, None, None, (), 0, next(counter))
        return cls(nodes, data.get("book") or {})

    def __contains__(self, node_id: str) -> bool:
        return node_id in self.nodes

    def __getitem__(self, node_id: str) -> TocNode:
        return self.nodes[node_id]

    def __iter__(self) -> Iterator[TocNode]:
        return iter(self._ordered)

    def path(self, node_id: str) -> list[TocNode]:
        """The node and its ancestors, root first."""
        chain = []
        current: str | None = node_id
        while current is not None:
            node = self.nodes[current]
            chain.append(node)
            current = node.parent
        return chain[::-1]

    def breadcrumb(self, node_id: str) -> tuple[str, ...]:
        return tuple(n.title for n in self.path(node_id))

    def descendants(self, node_id: str) -> Iterator[TocNode]:
        for child in self.nodes[node_id].children:
            yield self.nodes[child]
            yield from self.descendants(child)

    def find_below(self, anchor: str, title: str) -> TocNode | None:
        """The node under `anchor` whose title matches `title`, if any."""
        wanted = normalize_title(title)
        for node in self.descendants(anchor):
            if normalize_title(node.title) == wanted:
                return node
        return None

    def is_within(self, node_id: str, ancestor: str) -> bool:
        return node_id in self.nodes and any(n.id == ancestor for n in self.path(node_id))

    def page_of(self, node_id: str) -> int | None:
        """The node's page, or the nearest ancestor's."""
        for node in reversed(self.path(node_id)):
            if node.page is not None:
                return node.page
        return None

    def leaves(self) -> list[TocNode]:
        """The subsections coverage is reported on: nodes with no children."""
        return [n for n in self._ordered if not n.children and n.id != TEACHER_ROOT]
