"""jionlp, imported once and lazily, and its gazetteer of Chinese provinces, cities and counties,
which both the address and the name finders consult."""

from __future__ import annotations

import contextlib
import io
import threading
from functools import lru_cache

# -- the library ------------------------------------------------------------------------------
_jio_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jio():
    """jionlp, imported once (it prints a banner on import: kept off our stdout, which may be JSON Lines)."""
    with _jio_lock, contextlib.redirect_stdout(io.StringIO()):
        import jionlp

    return jionlp


def warm() -> None:
    """Load jionlp and the gazetteer ahead of the first question (the app does this while it loads)."""
    _places()
    simplified()


@lru_cache(maxsize=1)
def simplified() -> dict[int, str]:
    """A `str.translate` table from traditional to simplified characters, one for one (jionlp's
    character table): 香港九龍旺角彌敦道688號 and 羅志偉 are then read like 九龙 … 688号 and 罗志伟,
    at the same offsets, so a span found in the reading is the same span of the text as typed."""
    converter = _jio().tra2sim.__self__
    converter._prepare()  # builds its tables on first use
    pairs = getattr(converter, "tra2sim_char", {}) or {}
    # 幺 is how a one is read out in a phone number (幺三八…), not a traditional 么.
    return {ord(k): v for k, v in pairs.items() if len(k) == 1 and len(v) == 1 and k != v and k != "幺"}


@lru_cache(maxsize=1)
def _places() -> tuple[frozenset[str], int, frozenset[str]]:
    """Province, city and county names with their short forms (two characters or more) from jionlp."""
    names: set[str] = set()

    def take(node: dict, key: str) -> None:
        names.add(key)
        for alias in [node.get("_alias")] if isinstance(node.get("_alias"), str) else node.get("_alias") or []:
            if alias and len(alias) >= 2:
                names.add(alias)

    for province, cities in _jio().china_location_loader().items():
        take(cities, province)
        for city, counties in cities.items():
            if city.startswith("_"):
                continue
            take(counties, city)
            for county, node in counties.items():
                if not county.startswith("_"):
                    take(node, county)
    names = {n for n in names if len(n) >= 2}
    return frozenset(names), max(len(n) for n in names), frozenset(n[:2] for n in names)


def _place_at(text: str, i: int) -> int:
    """Length of the longest gazetteer name starting at i (0 when none)."""
    names, longest, heads = _places()
    if text[i : i + 2] not in heads:  # most positions: one set lookup
        return 0
    for size in range(min(longest, len(text) - i), 1, -1):
        if text[i : i + size] in names:
            return size
    return 0
