"""Search: ``Searcher.answer`` runs the stages of this package in order (see ``searcher.py``).

question.py → candidates.py → keyword_scores.py, sentence_scores.py → fusion.py → collapse.py →
highlight.py → relevance.py → assemble.py; config.py gathers the stages' configs into a ``SearchConfig``.
"""

from index.search.config import CONFIGS, DEFAULT_CONFIG, SearchConfig
from index.search.question import BadQuestion
from index.search.searcher import Answer, Searcher, open_searcher

__all__ = ["CONFIGS", "DEFAULT_CONFIG", "Answer", "BadQuestion", "SearchConfig", "Searcher", "open_searcher"]
