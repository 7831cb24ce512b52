"""Forms of the exam pages. The item form is type-specific and writes the bank's format."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from soro_web.curriculum.models import Topic
from tutoring.exams.models import Item, ItemType
from tutoring.exams.services.scoring import LABELS


def _topics() -> Any:
    return Topic.objects.leaves().select_related("subject", "grade")


class TopicChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Topic) -> str:
        return f"{obj.code} · {obj.name}"


class ItemForm(forms.Form):
    """Fields shared by every type; the type's own fields are added in ``__init__``."""

    topic = TopicChoiceField(label=_("Topic"), queryset=Topic.objects.none(), to_field_name="code")
    part = forms.ChoiceField(label=_("Part"), choices=Item.Part.choices)
    difficulty = forms.TypedChoiceField(
        label=_("Difficulty"),
        coerce=int,
        choices=[(1, _("easy")), (2, _("medium")), (3, _("hard"))],
        initial=2,
    )
    stem = forms.CharField(label=_("Question"), widget=forms.Textarea(attrs={"rows": 3}))
    explanation = forms.CharField(
        label=_("Explanation shown after the answer"), widget=forms.Textarea(attrs={"rows": 3})
    )
    source = forms.CharField(label=_("Source"), max_length=300, required=False)
    reference_book = forms.CharField(label=_("Textbook title"), max_length=300, required=False)
    reference_page = forms.IntegerField(label=_("Textbook page"), min_value=1, required=False)

    def __init__(self, *args: Any, item_type: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.item_type = item_type
        self.fields["topic"].queryset = _topics()  # type: ignore[attr-defined]
        if item_type == ItemType.CHOICE:
            for index in range(4):
                self.fields[f"option_{index}"] = forms.CharField(
                    label=_("Option %(label)s") % {"label": LABELS[index]}, max_length=500
                )
            self.fields["answer"] = forms.TypedChoiceField(
                label=_("Correct option"),
                coerce=int,
                choices=[(i, LABELS[i]) for i in range(4)],
                widget=forms.RadioSelect,
            )
        elif item_type == ItemType.MATCHING:
            for index in range(4):
                self.fields[f"left_{index}"] = forms.CharField(
                    label=_("Left %(number)s") % {"number": index + 1}, max_length=300
                )
            for index in range(5):
                self.fields[f"right_{index}"] = forms.CharField(
                    label=_("Right %(label)s") % {"label": LABELS[index]},
                    max_length=300,
                    required=index < 4,
                    help_text=_("optional: a fifth choice that matches nothing")
                    if index == 4
                    else "",
                )
            for index in range(4):
                self.fields[f"pair_{index}"] = forms.TypedChoiceField(
                    label=_("Left %(number)s matches") % {"number": index + 1},
                    coerce=int,
                    choices=[(i, LABELS[i]) for i in range(5)],
                )
        else:
            self.fields["answers"] = forms.CharField(
                label=_("Accepted words (one per line)"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.fields["numeric_value"] = forms.CharField(
                label=_("Or a number"), required=False, max_length=40
            )
            self.fields["numeric_tolerance"] = forms.CharField(
                label=_("Allowed difference"), required=False, max_length=40, initial="0"
            )

    @classmethod
    def initial_for(cls, item: Item) -> dict[str, Any]:
        version = item.current
        assert version is not None
        content = version.content
        initial: dict[str, Any] = {
            "topic": item.topic.code,
            "part": item.part,
            "difficulty": item.difficulty,
            "stem": version.stem,
            "explanation": version.explanation,
            "source": version.source,
            "reference_book": (version.reference or {}).get("book", ""),
            "reference_page": (version.reference or {}).get("page"),
        }
        if item.type == ItemType.CHOICE:
            initial.update({f"option_{i}": text for i, text in enumerate(content["options"])})
            initial["answer"] = content["answer"]
        elif item.type == ItemType.MATCHING:
            initial.update({f"left_{i}": text for i, text in enumerate(content["left"])})
            initial.update({f"right_{i}": text for i, text in enumerate(content["right"])})
            initial.update({f"pair_{left}": right for left, right in content["pairs"]})
        elif "numeric" in content:
            initial["numeric_value"] = str(content["numeric"]["value"]).replace(".", ",")
            initial["numeric_tolerance"] = str(content["numeric"]["tolerance"]).replace(".", ",")
        else:
            initial["answers"] = "\n".join(content["answers"])
        return initial

    def bank_data(self) -> dict[str, Any]:
        """The cleaned form in the bank's item format (checked again by the service)."""
        data = self.cleaned_data
        topic: Topic = data["topic"]
        item: dict[str, Any] = {
            "type": self.item_type,
            "subject": topic.subject.code,
            "grade": topic.grade.number,
            "topic": topic.code,
            "part": data["part"],
            "difficulty": data["difficulty"],
            "clusters": [],
            "stem": data["stem"],
            "explanation": data["explanation"],
            "source": data["source"],
            "reference": None,
        }
        if data.get("reference_book") and data.get("reference_page"):
            item["reference"] = {
                "book": data["reference_book"],
                "subject": topic.subject.code,
                "grade": topic.grade.number,
                "page": data["reference_page"],
            }
        if self.item_type == ItemType.CHOICE:
            item["options"] = [data[f"option_{i}"] for i in range(4)]
            item["answer"] = data["answer"]
        elif self.item_type == ItemType.MATCHING:
            item["left"] = [data[f"left_{i}"] for i in range(4)]
            item["right"] = [data[f"right_{i}"] for i in range(5) if data.get(f"right_{i}")]
            item["pairs"] = [[i, data[f"pair_{i}"]] for i in range(4)]
        else:
            from tutoring.exams.services.scoring import parse_number

            words = [w.strip() for w in (data.get("answers") or "").splitlines() if w.strip()]
            value = parse_number(data.get("numeric_value") or "")
            tolerance = parse_number(data.get("numeric_tolerance") or "0")
            if words:
                item["answers"] = words
            if (data.get("numeric_value") or "").strip():
                item["numeric"] = {
                    "value": value if value is not None else "?",
                    "tolerance": tolerance if tolerance is not None else -1,
                }
        return item


class AssignForm(forms.Form):
    classroom: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Class"),
        queryset=None,  # type: ignore[arg-type]
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    blueprint: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Shape of the test"),
        queryset=None,  # type: ignore[arg-type]
        required=False,
        empty_label=_("the questions I choose below"),
    )
    items = forms.CharField(
        label=_("Question codes (for a test of your own choice)"),
        required=False,
        help_text=_("Separate them with spaces, e.g. bio-001 bio-002."),
    )
    minutes = forms.IntegerField(label=_("Minutes"), min_value=1, max_value=600, initial=20)
    opens_at = forms.DateTimeField(
        label=_("Opens"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    closes_at = forms.DateTimeField(
        label=_("Closes"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args: Any, classrooms: Any, blueprints: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["classroom"].queryset = classrooms  # type: ignore[attr-defined]
        self.fields["blueprint"].queryset = blueprints  # type: ignore[attr-defined]
