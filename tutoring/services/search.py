"""Textbook search: hybrid (BM25 + dense) retrieval over the books a person may read, and
highlighting of the matched words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.html import escape
from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from tutoring.models import Passage, Textbook, TextbookEdition
from tutoring.retrieval.index import encoder_for, load_shard, search_shards
from tutoring.retrieval.normalize import normalize_tajik, tokenize_tajik
from tutoring.services.ingestion import edition_index_dir
from tutoring.services.passages import citation_text


@dataclass(frozen=True)
class SearchResult:
    passage: Passage
    score: float
    matched: tuple[str, ...]

    @property
    def citation(self) -> str:
        return citation_text(book=self.passage.textbook.title, page=self.passage.page)


def passages_search(
    *,
    user: User,
    query: str,
    subject: str | None = None,
    grade: int | None = None,
    textbook_id: int | None = None,
    limit: int = 10,
) -> list[SearchResult]:
    """Hybrid (BM25 + dense, fused) search over the textbooks the user may see."""
    if not tokenize_tajik(query or ""):
        raise ValidationError(
            {
                "q": _(
                    "Type at least one word to search for (not only short words like "
                    '"ва" or punctuation).'
                )
            },
            code="empty_query",
        )
    textbooks = Textbook.objects.searchable().visible_to(user)
    if subject:
        textbooks = textbooks.filter(subject__code=subject)
    if grade:
        textbooks = textbooks.filter(grade__number=grade)
    if textbook_id:
        textbooks = textbooks.filter(pk=textbook_id)
    editions = list(
        TextbookEdition.objects.filter(textbook__in=textbooks, is_current=True).values_list(
            "pk", "index_version"
        )
    )
    if not editions:
        return []
    hits = search_shards(
        [edition_index_dir(pk, version) for pk, version in editions],
        query,
        encoder_name=settings.SORO_RETRIEVAL_ENCODER,
        limit=limit,
    )
    passages = Passage.objects.select_related("textbook").in_bulk([h.chunk_id for h in hits])
    return [
        SearchResult(passage=passages[h.chunk_id], score=h.score, matched=h.matched)
        for h in hits
        if h.chunk_id in passages
    ]


def search_preload() -> None:
    """Load the query encoder and the current editions' indexes now, as a web process starts,
    so that the first searches do not each wait seconds for them (benchmarks/load.py)."""
    editions = TextbookEdition.objects.filter(is_current=True).values_list("pk", "index_version")
    for pk, version in editions:
        load_shard(edition_index_dir(pk, version))
    if settings.SORO_RETRIEVAL_ENCODER != "none":
        encoder_for(settings.SORO_RETRIEVAL_ENCODER).encode(["ҳуҷайра"], is_query=True)


def text_normalize(text: str) -> str:
    """Tajik text as the search sees it: NFC, invisible characters removed, look-alike Latin
    letters inside Cyrillic words made Cyrillic, Russian letters typed for Tajik ones fixed
    (the retrieval core's normaliser, for apps that may not import the core)."""
    return normalize_tajik(text)


def highlight(text: str, words: tuple[str, ...]) -> str:
    """HTML of ``text`` (escaped) with the matched words marked."""
    if not words:
        return escape(text)
    pattern = "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))
    # Match on the raw text and escape each piece, so a match never lands inside an entity.
    pieces: list[str] = []
    position = 0
    for match in re.finditer(rf"(?<!\w)(?:{pattern})\w*", text, flags=re.IGNORECASE):
        pieces.append(escape(text[position : match.start()]))
        pieces.append(f"<mark>{escape(match.group(0))}</mark>")
        position = match.end()
    pieces.append(escape(text[position:]))
    return "".join(pieces)
