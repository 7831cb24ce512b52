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
from tutoring.retrieval.index import CANDIDATES, NO_ENCODER, encoder_for, load_shard, search_shards
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

    @property
    def lexical(self) -> bool:
        """Whether a query word occurs in the passage (``False``: found by meaning only)."""
        return bool(self.matched)


# When no query word occurs in any passage, the closest passages by meaning are shown, at
# most this many, and only those at least this similar (cosine of the sentence encoder).
# The default encoder separates Tajik meaning weakly: benchmarks/search_meaning_floor.py
# (2026-12-02, load 9.6) puts "qwertyzzz", "асдфг", "zzzz xxxx", "лалала" at 0.11-0.16 to
# their best passage, but "йцукен фыва" at 0.23, above real questions (0.13-0.22). 0.17 drops
# the first four; what still passes is shown marked "close by meaning, no word matched".
MEANING_ONLY_LIMIT = 3
MEANING_MIN_SIMILARITY = 0.17
# Paging: ten results a page; the fused ranking keeps its best 50 (index.CANDIDATES per list).
PAGE_SIZE = 10
MAX_PAGES = 5


@dataclass(frozen=True)
class SearchPage:
    """One page of search results.

    ``exact`` is ``False`` when no query word occurs in any passage: the results are then
    the few closest by meaning (empty when none is similar enough), and there is no paging.
    """

    results: list[SearchResult]
    exact: bool
    page: int = 1
    has_next: bool = False
    per_page: int = PAGE_SIZE

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.per_page + 1

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def passages_search_page(
    *,
    user: User,
    query: str,
    subject: str | None = None,
    grade: int | None = None,
    textbook_id: int | None = None,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> SearchPage:
    """The search page's results: a page of the hybrid ranking when a query word occurs in
    some passage; otherwise at most :data:`MEANING_ONLY_LIMIT` passages close by meaning,
    above :data:`MEANING_MIN_SIMILARITY`, marked as such."""
    page = min(max(page, 1), MAX_PAGES)
    results = passages_search(
        user=user,
        query=query,
        subject=subject,
        grade=grade,
        textbook_id=textbook_id,
        limit=page * per_page + 1,
    )
    if any(result.lexical for result in results):
        page = min(page, (len(results) - 1) // per_page + 1)  # past the end: the last page
        start = (page - 1) * per_page
        return SearchPage(
            results=results[start : start + per_page],
            exact=True,
            page=page,
            has_next=len(results) > page * per_page and page < MAX_PAGES,
            per_page=per_page,
        )
    candidates = results[:MEANING_ONLY_LIMIT]
    similarity = _meaning_similarity(query, [r.passage for r in candidates])
    close = [r for r in candidates if similarity.get(r.passage.pk, 0.0) >= MEANING_MIN_SIMILARITY]
    return SearchPage(results=close, exact=False)


def _meaning_similarity(query: str, passages: list[Passage]) -> dict[int, float]:
    """Cosine similarity of the query to each passage under the configured sentence
    encoder (the dense half of the search), by passage id; empty without an encoder."""
    encoder_name = settings.SORO_RETRIEVAL_ENCODER
    if not passages or encoder_name == NO_ENCODER:
        return {}
    editions = TextbookEdition.objects.filter(pk__in={p.edition_id for p in passages}).values_list(
        "pk", "index_version"
    )
    wanted = {p.pk for p in passages}
    query_vector = encoder_for(encoder_name).encode([query], is_query=True)[0]
    similarity: dict[int, float] = {}
    for edition_id, version in editions:
        shard = load_shard(edition_index_dir(edition_id, version))
        if shard is None or shard.dense is None or shard.encoder != encoder_name:
            continue
        for hit in shard.dense.search(query_vector, CANDIDATES):
            if hit.chunk_id in wanted:
                similarity[hit.chunk_id] = hit.score
    return similarity


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


SNIPPET_WORDS = 40


def snippet(text: str, words: tuple[str, ...], *, size: int = SNIPPET_WORDS) -> tuple[str, bool]:
    """HTML of about ``size`` words of ``text`` around the first matched word (escaped, the
    matches marked), and whether text was left out."""
    tokens = text.split()
    if len(tokens) <= size:
        return highlight(text, words), False
    first = 0
    if words:
        pattern = re.compile(
            rf"(?<!\w)(?:{'|'.join(re.escape(w) for w in words)})", flags=re.IGNORECASE
        )
        first = next((i for i, token in enumerate(tokens) if pattern.search(token)), 0)
    start = max(0, min(first - size // 4, len(tokens) - size))
    piece = " ".join(tokens[start : start + size])
    html = highlight(piece, words)
    return ("… " if start else "") + html + (" …" if start + size < len(tokens) else ""), True


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
