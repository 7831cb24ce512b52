"""What the model commands share: finding a version by name and drawing progress."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelops.models import ModelVersion
from soro_web.management.progress import write_progress


class ModelCommand(BaseCommand):
    """A command that works on one model version, given with ``--model NAME``."""

    model_help = "the model version's name (see `manage.py promote_model --list` or the admin)"

    def add_model_argument(self, parser: CommandParser, *, required: bool = True) -> None:
        parser.add_argument("--model", required=required, help=self.model_help)

    def version(self, name: str) -> ModelVersion:
        version = ModelVersion.objects.filter(name=name).first()
        if version is None:
            known = ", ".join(ModelVersion.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No model version is called {name!r}. Known versions: {known}.")
        return version

    def progress(self, stage: str, fraction: float) -> None:
        write_progress(self.stdout, fraction, stage, same_line=True)
        if fraction >= 1.0:
            self.stdout.write("")
