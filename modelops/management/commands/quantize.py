from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from modelops.cpu_export import CpuExportError
from modelops.management.base import ModelCommand
from modelops.quantization import QuantizationError
from modelops.services.quantization import model_quantize
from modelops.services.runs import RunCancelled


class Command(ModelCommand):
    help = (
        "Quantize a model version with llm-compressor into a compressed-tensors directory "
        "that TGI and vLLM load, and register it as a new version: fp8 (FP8 dynamic, no "
        "calibration) or int4 (W4A16 with GPTQ calibrated on Tajik text; --method rtn for "
        "plain rounding). Reports sizes and the held-out Tajik perplexity and top-1 "
        "agreement with the parent; evaluate it with `manage.py evaluate` for accuracy kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_model_argument(parser)
        parser.add_argument(
            "--scheme",
            required=True,
            help="fp8 or int4 (GPU servers), cpu-int4 or cpu-int8 (llama.cpp GGUF, for CPUs)",
        )
        parser.add_argument("--method", help="int4 only: gptq (default) or rtn")
        parser.add_argument("--name", help="the new version's name (default MODEL-SCHEME)")
        parser.add_argument(
            "--calibration-samples",
            type=int,
            default=32,
            help="GPTQ calibration texts of up to 256 tokens (default 32; more on a GPU)",
        )
        parser.add_argument(
            "--calibration",
            action="append",
            type=Path,
            help="Markdown or text file of Tajik text to calibrate GPTQ on (repeatable; "
            "default: the demo textbooks)",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        version = self.version(options["model"])
        if options["calibration_samples"] < 1:
            raise CommandError("--calibration-samples must be at least 1.")
        for path in options["calibration"] or []:
            if not path.is_file():
                raise CommandError(f"No calibration file {path}.")
        try:
            quantized = model_quantize(
                version=version,
                scheme=options["scheme"],
                method=options["method"],
                name=options["name"],
                calibration_paths=options["calibration"],
                calibration_samples=options["calibration_samples"],
                progress=self.progress,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        except (QuantizationError, CpuExportError) as error:
            raise CommandError(str(error)) from None
        except RunCancelled:
            raise CommandError("The run was cancelled from the admin; nothing was kept.") from None
        metrics = quantized.metrics
        mb = 1e6
        self.stdout.write("")
        if options["scheme"].startswith("cpu-"):
            self._report_cpu(quantized, version.name)
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {quantized.name} ({quantized.quantization}) at {quantized.directory}"
            )
        )
        self.stdout.write(
            f"  whole model   {metrics['parent_size_bytes'] / mb:8.1f} MB -> "
            f"{metrics['size_bytes'] / mb:8.1f} MB  ({metrics['compression_ratio']:.2f}x smaller)"
        )
        self.stdout.write(
            f"  linear layers {metrics['linear_bytes_before'] / mb:8.1f} MB -> "
            f"{metrics['linear_bytes_after'] / mb:8.1f} MB  "
            f"({metrics['linear_compression_ratio']:.2f}x smaller); the embedding "
            f"({metrics['embedding_bytes'] / mb:.1f} MB) is not quantized"
        )
        self.stdout.write(
            f"  held-out Tajik perplexity {metrics['heldout_parent_perplexity']:.3f} -> "
            f"{metrics['heldout_perplexity']:.3f}, top-1 agreement with the parent "
            f"{metrics['heldout_top1_agreement']:.1%} ({metrics['heldout_tokens']} tokens)"
        )
        self.stdout.write(
            f"  took {metrics['quantize_seconds']:.1f} s "
            f"({metrics['calibration_samples']} calibration samples)"
        )
        self.stdout.write(
            f"Next: manage.py evaluate --model {quantized.name} --benchmark tajik_suite "
            f"--benchmark english_retention   (shows the share of {version.name}'s accuracy kept)"
        )

    def _report_cpu(self, exported, parent: str) -> None:  # type: ignore[no-untyped-def]
        metrics, mb = exported.metrics, 1e6
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {exported.name} ({exported.quantization}, llama.cpp "
                f"{metrics['quant_type']}) at {exported.directory}"
            )
        )
        self.stdout.write(
            f"  whole model   {metrics['parent_size_bytes'] / mb:8.1f} MB -> "
            f"{metrics['size_bytes'] / mb:8.1f} MB  ({metrics['compression_ratio']:.2f}x smaller)"
        )
        self.stdout.write(
            f"  token ids identical to the platform's tokenizer on "
            f"{metrics['token_id_texts_checked']} Tajik texts"
        )
        self.stdout.write(
            f"  held-out Tajik perplexity {metrics['heldout_parent_perplexity']:.3f} -> "
            f"{metrics['heldout_perplexity']:.3f}, top-1 agreement with the parent "
            f"{metrics['heldout_top1_agreement']:.1%} ({metrics['heldout_tokens']} tokens, "
            "scored by llama.cpp)"
        )
        self.stdout.write(f"  took {metrics['quantize_seconds']:.1f} s")
        self.stdout.write(
            f"Next: manage.py promote_model --model {exported.name}   (serve it on this CPU)"
        )
