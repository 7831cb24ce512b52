"""Tutoring's one door for other apps: textbook passages as frozen values, and the one
citation format. Lessons, the tutor, exams and grading read passages through these functions,
never through tutoring's models."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from soro_web.curriculum.models import Topic
from tutoring.models import Passage


def citation_text(*, book: str, page: int | None) -> str:
    """The one citation format, in the active language: "Алгебра, саҳ. 3"."""
    if page is None:
        return book
    return _("%(title)s, p. %(page)s") % {"title": book, "page": page}


@dataclass(frozen=True)
class PassageRef:
    """A passage of a current textbook edition, as other apps see it."""

    id: int
    book: str
    page: int
    text: str
    heading_path: tuple[str, ...] = ()

    @property
    def citation(self) -> str:
        return citation_text(book=self.book, page=self.page)

    def as_citation(self) -> dict[str, object]:
        """What a lesson section stores to cite this passage."""
        return {"book": self.book, "page": self.page, "passage_id": self.id}


def passage_ref(passage: Passage) -> PassageRef:
    return PassageRef(
        id=passage.pk,
        book=passage.textbook.title,
        page=passage.page,
        text=passage.text,
        heading_path=tuple(passage.heading_path or ()),
    )


def passages_for_topic(*, user: User, topic: Topic, limit: int) -> list[PassageRef]:
    """The topic's passages the user may read, best first (hybrid search on the topic's
    name within its subject and grade). Empty when no textbook covers it.

    Raises ``ValidationError`` when the topic's name has no searchable word; other errors
    (a broken index) propagate so the caller can tell "none" from "search is down"."""
    from tutoring.services.search import passages_search

    results = passages_search(
        user=user,
        query=topic.name,
        subject=topic.subject.code,
        grade=topic.grade.number,
        limit=limit,
    )
    return [passage_ref(result.passage) for result in results]


def passages_by_ids(ids: Iterable[int]) -> list[PassageRef]:
    """Passages of current editions by id, in the order given; ids that are gone (the book
    was indexed again or removed) are skipped."""
    ids = list(ids)
    found = Passage.objects.current().select_related("textbook").in_bulk(ids)
    return [passage_ref(found[pk]) for pk in ids if pk in found]
