from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from modelops.instruction_data import DEMO_DIR
from modelops.management.base import TrainingCommand
from modelops.services import RunCancelled


class Command(TrainingCommand):
    help = (
        "Instruction-tune a model version on conversations: JSONL lines with `messages` "
        "(system/user/assistant, the OpenAI/TRL shape) or Soro's task records (rendered "
        "through the platform's prompt builders), or a datasets folder. Gemma 3 chat "
        "template, loss on the assistant's tokens only, packing, LoRA merged into the saved "
        "weights (--lora, the default) or every weight (--full). Bad lines are named before "
        "anything trains. Registers the result with train and eval loss."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_model_argument(parser, required=False)
        parser.add_argument(
            "--data",
            action="append",
            help=f"a JSONL file or folder, repeatable (default: Soro's examples in {DEMO_DIR})",
        )
        method = parser.add_mutually_exclusive_group()
        method.add_argument("--lora", action="store_true", help="LoRA adapters (default)")
        method.add_argument("--full", action="store_true", help="train every weight")
        parser.add_argument("--epochs", type=float, default=1.0)
        parser.add_argument("--steps", type=int, help="optimiser steps (instead of epochs)")
        parser.add_argument("--lr", type=float, help="default 2e-4 with LoRA, 2e-5 full")
        parser.add_argument("--eval-split", type=float, default=0.1)
        parser.add_argument("--seq-len", type=int, default=2048, help="tokens per sequence")
        self.add_training_arguments(parser, batch_size=1, accumulation=8)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        from modelops.services.training import model_sft

        if options["print_launch"]:
            self.stdout.write(self.launch_command("sft", options))
            return
        if not options["model"]:
            raise CommandError("Give --model VERSION.")
        version = self.version(options["model"])
        data = [Path(path) for path in options["data"] or [DEMO_DIR]]
        run = self.resume_run(options["resume"], "finetune")
        method = "full fine-tuning" if options["full"] else "LoRA"
        self.stdout.write(
            f"Instruction-tuning {version.name} ({method}) on {', '.join(map(str, data))}"
            + (f", resuming run #{run.pk}" if run else "")
        )
        try:
            trained = model_sft(
                version=version,
                data=data,
                lora=not options["full"],
                epochs=options["epochs"],
                steps=options["steps"],
                lr=options["lr"],
                eval_split=options["eval_split"],
                seq_len=options["seq_len"],
                micro_batch_size=options["batch_size"],
                gradient_accumulation=options["gradient_accumulation"],
                checkpoint_every=options["checkpoint_every"],
                seed=options["seed"],
                name=options["name"],
                progress=self.progress,
                on_start=self.announce_run,
                run=run,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        except RunCancelled:
            raise CommandError(
                "The run was cancelled; its checkpoints are kept: rerun with --resume."
            ) from None
        except Exception as error:
            raise CommandError(self.failure(error)) from None
        metrics = trained.metrics
        eval_loss = metrics.get("eval_loss")
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {trained.name} (instruction-tuned {version.name}, "
                f"{metrics['method']}): {metrics['train_examples']} training and "
                f"{metrics['eval_examples']} eval examples in {metrics['packed_sequences']} "
                f"packed sequences, {metrics['steps']} steps, train loss "
                f"{metrics['train_loss']:.4f}"
                + (f", eval loss {eval_loss:.4f}." if eval_loss is not None else ".")
            )
        )
