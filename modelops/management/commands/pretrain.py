from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from modelops.management.base import TrainingCommand
from modelops.models import Corpus
from modelops.services import RunCancelled


class Command(TrainingCommand):
    help = (
        "Continue pretraining every weight of a model version on a corpus's train split "
        "(packed sequences, cosine schedule with warm-up, gradient accumulation, bf16 where "
        "the hardware has it, periodic checkpoints, optional English replay), then register "
        "the result with its held-out Tajik perplexity and its parent's side by side. "
        "--resume RUN continues a stopped run from its last checkpoint (same arguments). "
        "Runs as is under `accelerate launch` / `torchrun` on many GPUs; --print-launch "
        "prints that command."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_model_argument(parser, required=False)
        parser.add_argument("--corpus", help="the corpus's name (see build_corpus)")
        budget = parser.add_mutually_exclusive_group()
        budget.add_argument("--steps", type=int, help="optimiser steps")
        budget.add_argument("--tokens", type=int, help="training tokens (sets the steps)")
        parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate")
        parser.add_argument("--seq-len", type=int, default=1024, help="tokens per sequence")
        parser.add_argument(
            "--replay",
            default="",
            help="English replay share, e.g. english:0.05 (5%% of the tokens from "
            "modelops/data/replay/english.txt)",
        )
        parser.add_argument("--warmup-ratio", type=float, default=0.05)
        self.add_training_arguments(parser, batch_size=4, accumulation=4)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        from modelops.services.training import model_pretrain

        if options["print_launch"]:
            self.stdout.write(self.launch_command("pretrain", options))
            return
        if not options["model"] or not options["corpus"]:
            raise CommandError("Give --model VERSION and --corpus NAME.")
        if options["steps"] is None and options["tokens"] is None:
            raise CommandError("Give --steps N or --tokens N.")
        version = self.version(options["model"])
        corpus = Corpus.objects.filter(name=options["corpus"]).first()
        if corpus is None:
            known = ", ".join(Corpus.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No corpus is called {options['corpus']!r}. Known: {known}.")
        replay = self.replay_share(options["replay"])
        run = self.resume_run(options["resume"], "pretrain")
        self.stdout.write(
            f"Pretraining {version.name} on {corpus.name} ({corpus.tokens:,} tokens)"
            + (f", resuming run #{run.pk}" if run else "")
        )
        try:
            trained = model_pretrain(
                version=version,
                corpus=corpus,
                steps=options["steps"],
                tokens=options["tokens"],
                lr=options["lr"],
                seq_len=options["seq_len"],
                replay=replay,
                micro_batch_size=options["batch_size"],
                gradient_accumulation=options["gradient_accumulation"],
                warmup_ratio=options["warmup_ratio"],
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
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {trained.name} (continued pretraining of {version.name}): "
                f"{metrics['steps']} steps, {metrics['tokens_seen']:,} tokens, final loss "
                f"{metrics['final_loss']:.4f}, {metrics['tokens_per_second']:,.0f} tokens/s."
            )
        )
        if "heldout_perplexity" in metrics:
            self.stdout.write(
                f"Held-out Tajik perplexity ({metrics['heldout_tokens']:,} tokens of "
                f"{metrics['heldout_documents']} validation documents never trained on):"
            )
            self.stdout.write(f"  {version.name:40} {metrics['parent_heldout_perplexity']:12.3f}")
            self.stdout.write(f"  {trained.name:40} {metrics['heldout_perplexity']:12.3f}")
        else:
            self.stdout.write("The corpus has no validation split; no perplexity measured.")
