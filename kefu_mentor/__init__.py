"""kefu-mentor: an offline, cited study and work mentor for 《网店客服》.

Public API::

    from kefu_mentor import Mentor
    mentor = Mentor.load(index_dir="index")
    answer = mentor.ask("泄露他人信息会被扣几分？")
"""

from __future__ import annotations

import logging

from .config import ChunkerSettings, Settings
from .errors import CorpusError, IndexUnavailable, MentorError, QuestionError
from .pipeline.index import build_index, load_index
from .pipeline.mentor import Mentor
from .schema import Answer, Chunk, Citation

__all__ = [
    "Answer",
    "Chunk",
    "ChunkerSettings",
    "Citation",
    "CorpusError",
    "IndexUnavailable",
    "Mentor",
    "MentorError",
    "QuestionError",
    "Settings",
    "build_index",
    "load_index",
]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
