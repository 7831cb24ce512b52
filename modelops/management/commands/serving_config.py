from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelops.models import ModelVersion
from modelops.services import serving_commands


class Command(BaseCommand):
    help = (
        "Print the exact Text Generation Inference (FP8) and vLLM launch commands for the "
        "active model version, and the settings that point Soro at the server."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", help="a version name (default: the active one)")
        parser.add_argument("--port", type=int, default=8080)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        queryset = ModelVersion.objects.all()
        version = (
            queryset.filter(name=options["model"]).first()
            if options["model"]
            else queryset.active().first()
        )
        if version is None:
            raise CommandError(
                "No such model version (or none is active): run manage.py import_base_model first."
            )
        commands = serving_commands(version=version, port=options["port"])
        self.stdout.write(
            f"# {version.name} ({version.get_stage_display()}, "
            f"{version.get_format_display()}) at {version.directory}"
        )
        if "llama_server" in commands:
            self.stdout.write("\n# A CPU version: the platform serves it in-process:")
            self.stdout.write(commands["local"])
            self.stdout.write("\n# or llama.cpp's own server on another CPU machine:")
            self.stdout.write(commands["llama_server"])
            self.stdout.write("\n# Then point Soro's web and worker processes at it with:")
            self.stdout.write(commands["env"])
            return
        self.stdout.write("\n# Text Generation Inference, FP8 weights on one GPU:")
        self.stdout.write(commands["tgi"])
        self.stdout.write("\n# vLLM, the same model:")
        self.stdout.write(commands["vllm"])
        self.stdout.write("\n# Then start Soro's web and worker processes with:")
        self.stdout.write(commands["env"])
