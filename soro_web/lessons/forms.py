from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from soro_web.accounts.models import Classroom
from soro_web.curriculum.models import Grade, Subject, Topic
from soro_web.lessons.models import Lesson, LessonSection
from soro_web.lessons.services import MAX_DURATION, MIN_DURATION
from soro_web.schema_types import SECTION_BODY_MAX_CHARS

if TYPE_CHECKING:
    from soro_web.accounts.models import User


class CurriculumFilterForm(forms.Form):
    """Subject and grade, to narrow the topics (creating) or the lessons (library)."""

    subject = forms.ModelChoiceField(
        label=_("Subject"), queryset=Subject.objects.all(), required=False
    )
    grade = forms.ModelChoiceField(label=_("Grade"), queryset=Grade.objects.all(), required=False)


class LessonCreateForm(forms.Form):
    topic = forms.TypedChoiceField(label=_("Topic"), coerce=int)
    title = forms.CharField(
        label=_("Title"),
        max_length=300,
        required=False,
        help_text=_("Leave empty to use the topic's name."),
    )
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), min_value=MIN_DURATION, max_value=MAX_DURATION, initial=45
    )
    language = forms.ChoiceField(
        label=_("Language of the lesson"), choices=Lesson.Language.choices, initial="tg"
    )

    def __init__(
        self, *args: Any, subject: Subject | None = None, grade: Grade | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        topics = Topic.objects.leaves().select_related("parent", "subject", "grade")
        if subject is not None:
            topics = topics.filter(subject=subject)
        if grade is not None:
            topics = topics.filter(grade=grade)
        groups: dict[str, list[tuple[int, str]]] = {}
        for topic in topics.order_by("subject__order", "grade__number", "parent__order", "order"):
            heading = f"{topic.subject} · {topic.grade}"
            if topic.parent is not None:
                heading += f" · {topic.parent.name}"
            groups.setdefault(heading, []).append((topic.pk, topic.name))
        self.fields["topic"].choices = [("", "—"), *groups.items()]  # type: ignore[attr-defined]

    def clean_topic(self) -> Topic:
        topic = Topic.objects.leaves().filter(pk=self.cleaned_data["topic"]).first()
        if topic is None:
            raise forms.ValidationError(_("Choose a topic from the list."))
        return topic


class LessonDetailsForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), min_value=MIN_DURATION, max_value=MAX_DURATION
    )


class SectionForm(forms.Form):
    title = forms.CharField(label=_("Section title"), max_length=300)
    body = forms.CharField(
        label=_("Text"), required=False, strip=False, max_length=SECTION_BODY_MAX_CHARS
    )
    revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class SectionAddForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of section"), choices=LessonSection.Kind.choices, initial="custom"
    )
    title = forms.CharField(label=_("Title"), max_length=300, required=False)


class SectionMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", _("up")), ("down", _("down"))])


class DraftForm(forms.Form):
    instruction = forms.CharField(label=_("Instruction"), max_length=200, required=False)
    ungrounded = forms.BooleanField(required=False)


class ProposalForm(forms.Form):
    action = forms.ChoiceField(choices=[("accept", _("accept")), ("discard", _("discard"))])


class SectionAudienceForm(forms.Form):
    audience = forms.ChoiceField(
        label=_("Who reads this section"), choices=LessonSection.Audience.choices
    )


class PublishForm(forms.Form):
    classes = forms.ModelMultipleChoiceField(
        label=_("Classes"),
        queryset=Classroom.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    publish_anyway = forms.BooleanField(
        label=_("Publish anyway: the empty sections are not shown to students"),
        required=False,
    )

    def __init__(self, *args: Any, teacher: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["classes"].queryset = Classroom.objects.taught_by(teacher).select_related(  # type: ignore[attr-defined]
            "subject", "grade"
        )
