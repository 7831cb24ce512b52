"""Lesson plans: reading, editing, drafting with the model, and documents.

Each reason to change lives in its own module; this package re-exports the public names, so
entry points (views, API) import from ``soro_web.lessons.services``.
"""

from soro_web.lessons.services.documents import (
    lesson_document,
    lesson_file_name,
    stored_citation_text,
)
from soro_web.lessons.services.drafting import (
    DRAFT_MAX_NEW_TOKENS,
    DRAFT_PASSAGES,
    cite_markers,
    draft_prompt,
    lesson_draft_section,
    lesson_passages,
    not_expected_language_message,
    section_insert_passages,
)
from soro_web.lessons.services.editing import (
    DEFAULT_SECTIONS,
    MAX_DURATION,
    MIN_DURATION,
    SectionConflict,
    lesson_copy,
    lesson_create,
    lesson_delete,
    lesson_publish,
    lesson_section_add,
    lesson_section_move,
    lesson_section_remove,
    lesson_section_update,
    lesson_snapshot,
    lesson_unpublish,
    lesson_update,
    lesson_version_restore,
    section_default_title,
    section_proposal_accept,
    section_proposal_discard,
    timed_plan_text,
)
from soro_web.lessons.services.reading import (
    lesson_get_for_owner,
    lesson_get_visible,
    lessons_for_user,
    lessons_library,
    section_get_for_owner,
)

__all__ = [
    "DEFAULT_SECTIONS",
    "DRAFT_MAX_NEW_TOKENS",
    "DRAFT_PASSAGES",
    "MAX_DURATION",
    "MIN_DURATION",
    "SectionConflict",
    "cite_markers",
    "draft_prompt",
    "lesson_copy",
    "lesson_create",
    "lesson_delete",
    "lesson_document",
    "lesson_draft_section",
    "lesson_file_name",
    "lesson_get_for_owner",
    "lesson_get_visible",
    "lesson_passages",
    "lesson_publish",
    "lesson_section_add",
    "lesson_section_move",
    "lesson_section_remove",
    "lesson_section_update",
    "lesson_snapshot",
    "lesson_unpublish",
    "lesson_update",
    "lesson_version_restore",
    "lessons_for_user",
    "lessons_library",
    "not_expected_language_message",
    "section_default_title",
    "section_get_for_owner",
    "section_insert_passages",
    "section_proposal_accept",
    "section_proposal_discard",
    "stored_citation_text",
    "timed_plan_text",
]
