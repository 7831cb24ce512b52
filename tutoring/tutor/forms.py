from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tutoring.tutor.services.turns import MESSAGE_CHARS


class StartForm(forms.Form):
    """What the chat is about: a lesson, a topic, a practice item, or nothing in particular."""

    lesson = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    topic = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    item = forms.CharField(required=False, max_length=80, widget=forms.HiddenInput)


class MessageForm(forms.Form):
    text = forms.CharField(
        label=_("Your message"),
        max_length=MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note for yourself"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class InsertForm(forms.Form):
    lesson = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    section = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
