"""Matplotlib set-up shared by the charts: headless backend and a font that has Chinese."""

from __future__ import annotations

import glob

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC")
_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK*.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.ttc",
    "/usr/share/fonts/**/wqy-zenhei.ttc",
)


def pyplot():
    """`matplotlib.pyplot` with the Agg backend and a CJK font named explicitly.

    Without a CJK font, Chinese labels render as empty boxes. Matplotlib's font cache may
    predate the font's installation, so the font files are registered directly when needed.
    """
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    def installed() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in CJK_FONTS if n in names), None)

    name = installed()
    if name is None:
        for pattern in _FONT_FILES:
            for path in glob.glob(pattern, recursive=True):
                font_manager.fontManager.addfont(path)
        name = installed()
    if name:
        plt.rcParams["font.family"] = name
    plt.rcParams["axes.unicode_minus"] = False
    return plt
