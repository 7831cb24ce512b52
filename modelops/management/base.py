"""What the model commands share: finding a version by name and drawing progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelops.models import ModelRun, ModelVersion
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


class TrainingCommand(ModelCommand):
    """``pretrain`` and ``sft``: the flags they share (batches, checkpoints, resume, the
    multi-GPU launch line) and how they report failures."""

    def add_training_arguments(
        self, parser: CommandParser, *, batch_size: int, accumulation: int
    ) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=batch_size, help="sequences per micro-batch"
        )
        parser.add_argument(
            "--gradient-accumulation",
            type=int,
            default=accumulation,
            help="micro-batches per optimiser step",
        )
        parser.add_argument("--checkpoint-every", type=int, default=200, help="steps")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--name", help="the new version's name (default: derived)")
        parser.add_argument(
            "--resume",
            type=int,
            metavar="RUN",
            help="continue run RUN (its id, printed at the start and in the admin) from its "
            "last checkpoint; the other arguments must be the same",
        )
        parser.add_argument(
            "--print-launch",
            action="store_true",
            help="print the accelerate launch command for many GPUs and exit",
        )
        parser.add_argument("--gpus", type=int, default=8, help="GPUs per node (--print-launch)")
        parser.add_argument("--nodes", type=int, default=1, help="nodes (--print-launch)")
        parser.add_argument(
            "--engine",
            choices=("fsdp", "deepspeed"),
            default="fsdp",
            help="FSDP or DeepSpeed ZeRO-3 (--print-launch)",
        )

    def announce_run(self, run: ModelRun) -> None:
        """The run's id first, so a run that is killed can be continued."""
        from modelops.services.training import training_run_dir

        self.stdout.write(
            f"Run #{run.pk} (checkpoints in {training_run_dir(run)}); if it stops, run the "
            f"same command with --resume {run.pk}."
        )

    def resume_run(self, run_id: int | None, kind: str) -> ModelRun | None:
        if run_id is None:
            return None
        run = ModelRun.objects.filter(pk=run_id).first()
        if run is None or run.kind != kind:
            raise CommandError(f"There is no {kind} run #{run_id} to resume.")
        if run.status == ModelRun.Status.SUCCEEDED:
            raise CommandError(f"Run #{run_id} has finished already; there is nothing to resume.")
        return run

    @staticmethod
    def replay_share(value: str) -> float:
        if not value:
            return 0.0
        language, _, share = value.partition(":")
        if language != "english":
            raise CommandError("--replay takes english:SHARE, e.g. english:0.05.")
        try:
            return float(share)
        except ValueError:
            raise CommandError("--replay takes english:SHARE, e.g. english:0.05.") from None

    @staticmethod
    def failure(error: Exception) -> str:
        from modelops.training import TrainingError

        if isinstance(error, TrainingError):
            return str(error)
        if isinstance(error, OSError) and error.errno == 28:
            return f"The disk is full ({error}); free space and rerun with --resume."
        return f"Training failed: {type(error).__name__}: {error}"

    def launch_command(self, kind: str, options: dict[str, Any]) -> str:
        """The ``accelerate launch`` line that runs the Django-free core
        (``python -m modelops.training``) on every GPU of every node."""
        from django.conf import settings

        from modelops.models import Corpus
        from modelops.training.launch import launch_command

        model_dir = "MODEL_DIR"
        if options.get("model"):
            model_dir = str(self.version(options["model"]).directory)
        arguments: dict[str, Any] = {"model-dir": model_dir}
        if kind == "pretrain":
            corpus = Corpus.objects.filter(name=options.get("corpus") or "").first()
            arguments["corpus-dir"] = str(corpus.directory) if corpus else "CORPUS_DIR"
            arguments["steps"] = options.get("steps")
            arguments["tokens"] = options.get("tokens")
            arguments["replay"] = self.replay_share(options.get("replay") or "") or None
            arguments["warmup-ratio"] = options.get("warmup_ratio")
        else:
            arguments["data"] = options.get("data") or "DATA"
            arguments["epochs"] = options.get("epochs")
            arguments["eval-split"] = options.get("eval_split")
            arguments["full"] = True if options.get("full") else None
        name = options.get("name") or f"{options.get('model') or 'model'}-{kind}"
        arguments.update(
            {
                "output-dir": str(Path(settings.SORO_MODELS_DIR) / name),
                "run-dir": str(Path(settings.VAR_DIR) / "training" / name),
                "lr": options.get("lr"),
                "seq-len": options.get("seq_len"),
                "batch-size": options.get("batch_size"),
                "gradient-accumulation": options.get("gradient_accumulation"),
                "checkpoint-every": options.get("checkpoint_every"),
                "seed": options.get("seed"),
            }
        )
        return launch_command(
            kind,
            arguments,
            gpus=options["gpus"],
            nodes=options["nodes"],
            engine=options["engine"],
        )
