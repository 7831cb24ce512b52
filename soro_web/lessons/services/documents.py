"""A lesson as a document: the export core's plain dataclasses, file names, and citation
texts for stored citations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from soro_web.lessons.export import CitationDoc, LessonDoc, SectionDoc
from soro_web.lessons.models import Lesson, LessonSection
from soro_web.lessons.services.editing import TIMED_PLAN_WEIGHTS
from soro_web.lessons.services.publishing import LessonReading, ReadSection
from tutoring.services import citation_text


def stored_citation_text(item: dict[str, Any]) -> str:
    """ "Алгебра, саҳ. 3" for a citation stored on a section, in the active language."""
    page = item.get("page")
    return citation_text(book=str(item.get("book", "")), page=None if page is None else int(page))


def printed_sections(*, lesson: Lesson, sections: Sequence[ReadSection]) -> list[ReadSection]:
    """The sections as printed: the timed plan lists only the activities that are printed
    (its "- Warm-up — 5 min" lines of a section that is empty or not for this reader are
    left out; lines the teacher wrote are kept)."""
    printed = {section.kind for section in sections}
    with translation.override(lesson.language):
        labels = {
            kind: f"- {LessonSection.Kind(kind).label} —" for kind, _weight in TIMED_PLAN_WEIGHTS
        }
    dropped = [label for kind, label in labels.items() if kind not in printed]
    result = []
    for section in sections:
        if section.kind == LessonSection.Kind.TIMED_PLAN and dropped:
            lines = [
                line
                for line in section.body.split("\n")
                if not any(line.strip().startswith(label) for label in dropped)
            ]
            section = replace(section, body="\n".join(lines))
        if section.body.strip():
            result.append(section)
    return result


def lesson_document(*, lesson: Lesson, reading: LessonReading) -> LessonDoc:
    """The lesson as the export core's plain dataclasses, labels in the lesson's language:
    what the reader reads (:func:`lesson_reading`: students, the published version)."""
    with translation.override(lesson.language):
        labels = {
            "subject": _("Subject"),
            "grade": _("Grade"),
            "topic": _("Topic"),
            "teacher": _("Teacher"),
            "duration": _("Duration"),
            "minutes": _("min"),
            "sources": _("Sources"),
            "ungrounded": _("Not grounded in the textbook"),
        }
        topic = lesson.topic
        return LessonDoc(
            title=reading.title,
            subject=topic.subject.localized_name(lesson.language),
            grade=topic.grade.name,
            topic=topic.name,
            teacher=lesson.teacher.display_name,
            duration_minutes=reading.duration_minutes,
            sections=tuple(
                SectionDoc(
                    title=section.title,
                    body=section.body,
                    citations=tuple(
                        CitationDoc(stored_citation_text(c)) for c in section.citations
                    ),
                    is_grounded=section.is_grounded,
                )
                for section in printed_sections(lesson=lesson, sections=reading.sections)
            ),
            labels=labels,
        )


def lesson_file_name(*, lesson: Lesson, extension: str, title: str = "") -> str:
    """A file name teachers recognise; safe on every system (letters, digits, dashes).
    ``title``: the title read (a published version's), else the lesson's."""
    stem = re.sub(r"[^\w]+", "-", title or lesson.title, flags=re.UNICODE).strip("-_")[:60]
    return f"{stem or 'lesson'}-{lesson.pk}.{extension}"
