from django import forms
from django.utils.translation import gettext_lazy as _

from soro_web.curriculum.models import Grade, Subject
from soro_web.languages import Language


class TextbookUploadForm(forms.Form):
    title = forms.CharField(
        label=_("Title"),
        max_length=300,
        required=False,
        help_text=_("Leave empty to use the file name."),
    )
    subject = forms.ModelChoiceField(label=_("Subject"), queryset=Subject.objects.all())
    grade = forms.ModelChoiceField(label=_("Grade"), queryset=Grade.objects.all())
    language = forms.ChoiceField(
        label=_("Language"),
        choices=Language.choices,
    )
    file = forms.FileField(
        label=_("File (PDF, DOCX, Markdown or text)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.docx,.md,.markdown,.txt"}),
    )


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search the textbooks"),
        max_length=300,
        widget=forms.SearchInput(attrs={"autofocus": True, "placeholder": "Исмоили Сомонӣ"}),
    )
    subject = forms.ModelChoiceField(
        label=_("Subject"), queryset=Subject.objects.all(), required=False, to_field_name="code"
    )
    grade = forms.ModelChoiceField(
        label=_("Grade"), queryset=Grade.objects.all(), required=False, to_field_name="number"
    )
