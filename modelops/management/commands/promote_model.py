from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from modelops.management.base import ModelCommand
from modelops.models import ModelVersion
from modelops.services import model_version_promote


class Command(ModelCommand):
    help = (
        "Make a model version the active one. Refuses a version whose files do not load, and "
        "one whose stored evaluation is below the active version's on the Tajik suite or "
        'keeps too little of its English, unless --force --reason "..." (recorded).'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "version", nargs="?", help="the version's name (see --list or the admin)"
        )
        parser.add_argument("--list", action="store_true", help="list the versions and stop")
        parser.add_argument(
            "--force", action="store_true", help="promote even though the quality gate refuses"
        )
        parser.add_argument("--reason", default="", help="why the gate is overridden (recorded)")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if options["list"] or not options["version"]:
            for version in ModelVersion.objects.order_by("created_at"):
                mark = "*" if version.is_active else " "
                self.stdout.write(
                    f"{mark} {version.name:40} {version.stage:22} {version.quantization or '-'}"
                )
            if not options["list"]:
                raise CommandError("Name the version to promote (the * marks the active one).")
            return
        version = self.version(options["version"])
        try:
            model_version_promote(version=version, force=options["force"], reason=options["reason"])
        except ValidationError as error:
            hint = (
                '\nTo override, add --force --reason "why" (it is recorded).'
                if error.code == "gate"
                else ""
            )
            raise CommandError(" ".join(error.messages) + hint) from None
        self.stdout.write(self.style.SUCCESS(f"{version.name} is now the active model."))
