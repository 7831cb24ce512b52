"""Search API: passages with book, page, heading, score and highlighted matches."""

from __future__ import annotations

from typing import Annotated

from ninja import Field, Query, Router, Schema

from soro_web.http import AuthenticatedRequest
from soro_web.schema_types import GradeNumber, Id, OneLine, errors
from tutoring.schemas import SearchResultOut
from tutoring.services import highlight, passages_search_page

router = Router(tags=["textbooks"])


class SearchQuery(Schema):
    q: Annotated[str, Field(min_length=1, max_length=300), OneLine] = Field(
        ...,
        description="The words to find. A query without a searchable word (only short words "
        "or punctuation) is refused with 422.",
    )
    subject: Annotated[str, Field(max_length=40), OneLine] | None = None
    grade: GradeNumber | None = None
    textbook: Id | None = None
    limit: Annotated[int, Field(ge=1, le=50)] = 10
    page: Annotated[int, Field(ge=1, le=5)] = 1


@router.get("/search", response={200: list[SearchResultOut], **errors()})
def search_passages(request: AuthenticatedRequest, filters: Query[SearchQuery]):  # type: ignore[no-untyped-def]
    """A page of passages. When no query word occurs in any passage, at most three passages
    close by meaning are returned, each with ``lexical: false`` (none below the minimum
    similarity), as on the search page."""
    results = passages_search_page(
        user=request.user,
        query=filters.q,
        subject=filters.subject,
        grade=filters.grade,
        textbook_id=filters.textbook,
        page=filters.page,
        per_page=filters.limit,
    ).results
    return [
        {
            "passage_id": r.passage.pk,
            "textbook_id": r.passage.textbook_id,
            "book": r.passage.textbook.title,
            "page": r.passage.page,
            "heading": r.passage.heading_path,
            "citation": r.citation,
            "score": r.score,
            "text": r.passage.text,
            "matched": list(r.matched),
            "lexical": r.lexical,
            "highlighted": highlight(r.passage.text, r.matched),
        }
        for r in results
    ]
