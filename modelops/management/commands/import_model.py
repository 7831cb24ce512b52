from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from modelops.management.base import ModelCommand
from modelops.models import ModelVersion


class Command(ModelCommand):
    help = (
        "Register a Gemma 3 checkpoint folder (Hugging Face format, e.g. the result of a "
        "pretraining on rented GPUs) as a model version, after the base import's checks "
        "(config, safetensors weights and tokenizer load; a Gemma 3 config). The folder is "
        "used where it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--name", required=True, help="the version's name")
        parser.add_argument("--parent", help="the version it was trained from")
        parser.add_argument(
            "--stage",
            choices=[s for s in ModelVersion.Stage.values if s != ModelVersion.Stage.QUANTIZED],
            help="default: continued_pretrained with --parent, else base",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        from modelops.services.training import model_import

        parent = self.version(options["parent"]) if options["parent"] else None
        try:
            version = model_import(
                directory=options["directory"],
                name=options["name"],
                parent=parent,
                stage=options["stage"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {version.name} ({version.get_stage_display()}): "
                f"{version.parameter_count or 0:,} parameters at {version.directory}."
            )
        )
