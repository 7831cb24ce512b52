"""Textbooks and retrieval: ingestion, search and the passages other apps may read.

Each workflow lives in its own module; this package re-exports the public names, so entry
points import from ``tutoring.services``. Other apps use only the door in
:mod:`tutoring.services.passages` (frozen passages and the citation format).
"""

from tutoring.services.ingestion import (
    ALLOWED_SUFFIXES,
    DEMO_TEXTBOOKS,
    TextbookRow,
    demo_textbooks,
    edition_for_progress,
    edition_index_dir,
    index_rebuild,
    ingest_error_message,
    textbook_ingest_run,
    textbook_ingest_start,
    textbook_ingest_sweep,
    textbook_register_file,
    textbook_upload,
    textbooks_overview,
)
from tutoring.services.passages import (
    PassageRef,
    citation_text,
    passages_by_ids,
    passages_for_topic,
)
from tutoring.services.search import (
    SearchPage,
    SearchResult,
    highlight,
    passages_search,
    passages_search_page,
    search_preload,
    snippet,
    text_normalize,
)
from tutoring.services.text import answer_text_key

__all__ = [
    "ALLOWED_SUFFIXES",
    "DEMO_TEXTBOOKS",
    "PassageRef",
    "SearchPage",
    "SearchResult",
    "TextbookRow",
    "answer_text_key",
    "citation_text",
    "demo_textbooks",
    "edition_for_progress",
    "edition_index_dir",
    "highlight",
    "index_rebuild",
    "ingest_error_message",
    "passages_by_ids",
    "passages_for_topic",
    "passages_search",
    "passages_search_page",
    "search_preload",
    "snippet",
    "text_normalize",
    "textbook_ingest_run",
    "textbook_ingest_start",
    "textbook_ingest_sweep",
    "textbook_register_file",
    "textbook_upload",
    "textbooks_overview",
]
