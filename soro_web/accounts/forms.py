from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from soro_web.accounts.models import School
from soro_web.curriculum.models import Grade, Subject


class JoinCodeField(forms.CharField):
    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("label", _("Class code"))
        kwargs.setdefault("max_length", 12)
        kwargs.setdefault("help_text", _("Six letters and digits from your teacher."))
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "autocapitalize": "characters",
                    "autocomplete": "off",
                    "spellcheck": "false",
                    "inputmode": "text",
                }
            ),
        )
        super().__init__(**kwargs)


class StudentSignUpForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    join_code = JoinCodeField()


class JoinClassForm(forms.Form):
    join_code = JoinCodeField()


class ClassroomForm(forms.Form):
    name = forms.CharField(
        label=_("Class name"), max_length=120, widget=forms.TextInput(attrs={"placeholder": "7А"})
    )
    subject = forms.ModelChoiceField(label=_("Subject"), queryset=Subject.objects.all())
    grade = forms.ModelChoiceField(label=_("Grade"), queryset=Grade.objects.all())


class TeacherForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(
        label=_("Temporary password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    school = forms.ModelChoiceField(label=_("School"), queryset=School.objects.all())


class UnlockForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    code = forms.CharField(
        label=_("Unlock code"),
        max_length=20,
        help_text=_("The one-time code your teacher gave you."),
        widget=forms.TextInput(
            attrs={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
