from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from modelops.management.base import ModelCommand
from modelops.models import ModelRun
from modelops.services.refresh import (
    PRESETS,
    STAGES,
    RefreshError,
    refresh_run,
    refresh_start,
    refresh_table_text,
)
from modelops.services.runs import RunCancelled


class Command(ModelCommand):
    help = (
        "The administrator's one command: build or reuse the corpus, pretrain the base on it, "
        "instruction-tune the result, evaluate base, pretrained and tuned versions (Tajik "
        "suite, English retention, generation suite), quantize to FP8 and INT4, evaluate "
        "those, and promote the tuned version if it passes the gate (or stop with the gate's "
        "reasons). Prints every version on every benchmark side by side. A failed chain "
        "resumes at its failed stage with --resume RUN."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base", help="the version to start from (e.g. gemma3-270m-base)")
        parser.add_argument("--corpus", default="demo", help="corpus name (built if missing)")
        parser.add_argument(
            "--sft-data", help="instruction data (JSONL file or folder; default: Soro's own)"
        )
        parser.add_argument("--preset", default="demo", choices=sorted(PRESETS))
        parser.add_argument(
            "--no-promote", action="store_true", help="stop after the gate's decision"
        )
        parser.add_argument(
            "--resume", type=int, metavar="RUN", help="continue the refresh run RUN"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if options["resume"]:
            run = ModelRun.objects.filter(pk=options["resume"], kind=ModelRun.Kind.REFRESH).first()
            if run is None:
                raise CommandError(f"No refresh run {options['resume']}.")
            if run.status == ModelRun.Status.SUCCEEDED:
                raise CommandError(f"Refresh run {run.pk} has finished already.")
        else:
            if not options["base"]:
                raise CommandError("Give --base VERSION (or --resume RUN).")
            try:
                run = refresh_start(
                    base=self.version(options["base"]),
                    corpus=options["corpus"],
                    sft_data=options["sft_data"],
                    preset=options["preset"],
                    promote=not options["no_promote"],
                )
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
        done = [s for s in STAGES if run.config["stages"].get(s, {}).get("status") == "done"]
        self.stdout.write(
            f"Refresh run {run.pk} ({run.config['preset']} preset) from {run.config['base']}"
            + (f"; finished stages kept: {', '.join(done)}" if done else "")
        )
        try:
            outcome = refresh_run(run=run, progress=self.progress)
        except RefreshError as error:
            raise CommandError(
                f"{error}\nFix the cause, then continue with: manage.py refresh_model "
                f"--resume {run.pk}"
            ) from None
        except RunCancelled:
            raise CommandError(f"Refresh run {run.pk} was cancelled from the admin.") from None
        self.stdout.write("")
        self.stdout.write(refresh_table_text(outcome.table))
        self.stdout.write("")
        if outcome.promoted is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Promoted {outcome.promoted.name}: it serves every feature now."
                )
            )
        elif outcome.refusal:
            self.stdout.write(self.style.WARNING("Not promoted; the gate says:"))
            for reason in outcome.refusal:
                self.stdout.write(f"  - {reason}")
        else:
            self.stdout.write("Not promoted (--no-promote).")
