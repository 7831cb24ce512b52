"""The tutor's workflows: conversations, turns, the safety check and practice items.

Entry points (views, the API) import from ``tutoring.tutor.services``; an app with practice
items registers a provider with :func:`tutor_item_provider_register`.
"""

from tutoring.tutor.services.conversations import (
    TutorCounts,
    conversation_get_for_owner,
    conversation_get_for_reader,
    conversation_kind_for,
    conversation_messages,
    conversation_notes,
    conversation_passage,
    conversations_for_user,
    student_conversations_for_teacher,
    teacher_note_add,
    tutor_conversation_start,
    tutor_counts,
)
from tutoring.tutor.services.insert import (
    insert_targets,
    teacher_reply_get,
    teacher_reply_insert,
)
from tutoring.tutor.services.items import (
    ItemRefusal,
    TutorOff,
    tutor_item_context,
    tutor_item_provider_register,
    tutor_item_provider_unregister,
)
from tutoring.tutor.services.safety import SafetyResult, folded, safety_check, safety_reply
from tutoring.tutor.services.turns import (
    TurnPlan,
    hint_level,
    messages_today,
    tutor_turn_prepare,
    tutor_turn_stream,
)

__all__ = [
    "ItemRefusal",
    "SafetyResult",
    "TurnPlan",
    "TutorCounts",
    "TutorOff",
    "conversation_get_for_owner",
    "conversation_get_for_reader",
    "conversation_kind_for",
    "conversation_messages",
    "conversation_notes",
    "conversation_passage",
    "conversations_for_user",
    "folded",
    "hint_level",
    "insert_targets",
    "messages_today",
    "safety_check",
    "safety_reply",
    "student_conversations_for_teacher",
    "teacher_note_add",
    "teacher_reply_get",
    "teacher_reply_insert",
    "tutor_conversation_start",
    "tutor_counts",
    "tutor_item_context",
    "tutor_item_provider_register",
    "tutor_item_provider_unregister",
    "tutor_turn_prepare",
    "tutor_turn_stream",
]
