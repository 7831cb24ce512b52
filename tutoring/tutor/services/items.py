"""Practice items the tutor may talk about, from the apps that own them.

Each app with practice items has a provider, registered when the tutor starts (exam
practice's is :mod:`tutoring.tutor.exam_items`, through exams' services)::

    tutor_item_provider_register("exams", exam_item_for_tutor)

``item_ref`` is ``"<prefix>:<the app's own reference>"``. The provider answers for one
student and one item with a :class:`TutorItem` (the key and explanation only when the
student has answered the item) or an :class:`ItemRefusal` ("the tutor is off during an open
mock exam"). Whatever a provider returns, the tutor itself drops the key and explanation of
an item the student has not answered (:func:`tutor_item_context`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from modelops.prompts import TutorItem
from soro_web.accounts.models import User


@dataclass(frozen=True)
class ItemRefusal:
    """The tutor may not help with this item now; ``message`` says why, to the student."""

    reason: str
    message: str


ItemProvider = Callable[[User, str], "TutorItem | ItemRefusal | None"]

_providers: dict[str, ItemProvider] = {}


class TutorOff(ValidationError):
    """The tutor is off for this item (an open mock exam or assigned test)."""


def tutor_item_provider_register(prefix: str, provider: ItemProvider) -> None:
    """Let the tutor open items whose reference starts with ``prefix:``."""
    _providers[prefix] = provider


def tutor_item_provider_unregister(prefix: str) -> None:
    _providers.pop(prefix, None)


def tutor_item_context(*, student: User, item_ref: str) -> TutorItem | None:
    """The item as the tutor may see it; None without ``item_ref``.

    Raises :class:`TutorOff` when the owning app refuses (the message says why) and
    ``ValidationError`` when no app knows the reference or the student may not see it.
    """
    if not item_ref:
        return None
    prefix, _sep, reference = item_ref.partition(":")
    provider = _providers.get(prefix)
    answer = provider(student, reference) if provider is not None and reference else None
    if answer is None:
        raise ValidationError(_("This practice item cannot be found."), code="item_unknown")
    if isinstance(answer, ItemRefusal):
        raise TutorOff(answer.message, code=answer.reason)
    if answer.is_correct is None:
        # Never the key of an open item, whoever forgot to leave it out.
        answer = dataclasses.replace(answer, key="", explanation="")
    return answer
