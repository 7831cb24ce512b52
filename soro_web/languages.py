"""The platform's languages, Tajik first: the one list for settings, models and forms."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    TAJIK = "tg", _("Tajik")
    RUSSIAN = "ru", _("Russian")
    ENGLISH = "en", _("English")
