"""manage.py import_questions FILE [--approve] | --demo: load a question bank (JSON, CSV,
Moodle XML or GIFT)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tutoring.exams.services import DEMO_BANK, bank_import_file, blueprints_import


class Command(BaseCommand):
    help = (
        "Import exam questions from a Soro bank file (JSON or CSV), Moodle XML or GIFT "
        "(.gift, .txt). Every row is checked first; a bad row names itself and nothing is "
        "imported. --demo loads the demo bank (approved) and the demo blueprints."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--demo", action="store_true", help="the demo bank and blueprints")
        parser.add_argument(
            "--approve", action="store_true", help="mark imported questions approved"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path | None = options["file"]
        if path is None and not options["demo"]:
            raise CommandError("Name a bank file (JSON, CSV, Moodle XML or GIFT) or pass --demo.")
        if path is not None and not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            report = bank_import_file(
                path=path or DEMO_BANK, approve=options["approve"] or path is None
            )
            blueprints = blueprints_import() if options["demo"] else []
        except ValidationError as error:
            raise CommandError(
                "Nothing was imported:\n" + "\n".join(f"  {m}" for m in error.messages)
            ) from None
        self.stdout.write(
            f"Questions: {len(report.created)} new, {len(report.updated)} changed, "
            f"{len(report.unchanged)} unchanged."
        )
        if blueprints:
            self.stdout.write(f"Blueprints: {', '.join(b.code for b in blueprints)}.")
