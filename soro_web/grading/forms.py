from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from soro_web.accounts.models import Classroom
from soro_web.grading.models import Question

if TYPE_CHECKING:
    from soro_web.accounts.models import User


class AssignmentCreateForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    classroom = forms.ModelChoiceField(label=_("Class"), queryset=Classroom.objects.none())

    def __init__(self, *args: Any, teacher: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["classroom"].queryset = Classroom.objects.taught_by(teacher)  # type: ignore[attr-defined]


class QuestionForm(forms.Form):
    text = forms.CharField(label=_("Question"), widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(
        label=_("Kind"), choices=Question.Kind.choices, initial=Question.Kind.OPEN
    )
    expected_answer = forms.CharField(
        label=_("Expected answer"),
        required=False,
        max_length=300,
        help_text=_("Exact questions: accepted answers separated by |, e.g. Бухоро|ш. Бухоро."),
    )
    points = forms.IntegerField(label=_("Points"), min_value=1, max_value=100, initial=1)
    model_answer = forms.CharField(
        label=_("Model answer"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    rubric = forms.CharField(
        label=_("Rubric"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Open questions: one criterion a line, its name, a colon, then levels with points "
            "and a descriptor separated by semicolons, e.g. "
            "“Дурустӣ: 0 — нодуруст; 1 — қисман дуруст; 2 — пурра дуруст”."
        ),
    )


class ExamImportForm(forms.Form):
    test = forms.TypedChoiceField(label=_("Class test"), coerce=int, choices=())

    def __init__(self, *args: Any, tests: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["test"].choices = tests  # type: ignore[attr-defined]


class RubricForm(forms.Form):
    rubric = forms.CharField(
        label=_("Rubric"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=QuestionForm.base_fields["rubric"].help_text,
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Answers file (CSV or XLSX)"),
        help_text=_("Columns: student (username), question (number), answer."),
    )


class GradeEditForm(forms.Form):
    feedback = forms.CharField(
        label=_("Feedback for the student"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, criteria: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for index, criterion in enumerate(criteria):
            self.fields[f"criterion_{index}"] = forms.TypedChoiceField(
                label=criterion["name"],
                coerce=float,
                choices=[
                    (float(level["points"]), f"{level['points']} — {level['descriptor']}")
                    for level in criterion["levels"]
                ],
                initial=criterion.get("proposed"),
            )
        self.order_fields([*(f"criterion_{i}" for i in range(len(criteria))), "feedback"])

    def scores(self) -> list[float]:
        return [self.cleaned_data[name] for name in self.fields if name.startswith("criterion_")]
