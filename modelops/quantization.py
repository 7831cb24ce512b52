"""Post-training quantization with llm-compressor, and measuring what it costs.

:func:`quantize_checkpoint` turns a full-precision Hugging Face checkpoint into a
compressed-tensors directory that TGI and vLLM load:

- ``fp8``: ``FP8_DYNAMIC`` - FP8 (E4M3) weights with one scale per output channel, and
  activations quantized per token at run time by the server. Needs no calibration data.
- ``int4``: ``W4A16`` - symmetric 4-bit integer weights with one scale per group of 128
  input columns, activations left in 16 bits. ``method="gptq"`` calibrates on text (Tajik
  text from the corpus or the textbooks); ``method="rtn"`` rounds each weight to the
  nearest level, a labelled fallback that loses much more.

``lm_head`` is never quantized, and Gemma ties it to the 262k-entry embedding, which
therefore stays in 16 bits; at 270M parameters it is most of the file, so the result
reports the Linear layers' compression separately from the whole model's.

:func:`load_fake_quantized` loads such a directory on the CPU in float32 with every
quantized weight replaced by its dequantized value, so evaluation sees exactly the
rounding error the server will (and, for FP8, its per-token activation rounding);
:func:`perplexity_and_agreement` compares it with its
parent on held-out text and :func:`accuracy_retention` turns benchmark accuracies into
the share kept. Nothing here imports Django.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from modelops.checkpoints import directory_size, tensor_bytes, weights_size

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

SchemeName = Literal["fp8", "int4"]
MethodName = Literal["gptq", "rtn"]
StorageDtype = Literal["bfloat16", "float32"]
Progress = Callable[[str, float], None]

SCHEMES: tuple[str, ...] = get_args(SchemeName)
METHODS: tuple[str, ...] = get_args(MethodName)

#: llm-compressor preset and compressed-tensors format for each scheme.
_PRESETS: dict[str, tuple[str, str]] = {
    "fp8": ("FP8_DYNAMIC", "float-quantized"),
    "int4": ("W4A16", "pack-quantized"),
}
INT4_GROUP_SIZE = 128  # W4A16's preset; every quantized layer's width must divide by it

#: Files copied from the source so the output is servable as it is.
_SERVING_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "generation_config.json",
)


class QuantizationError(Exception):
    """Bad input to quantization (unknown scheme, already quantized source, ...). The
    message is a sentence an administrator can act on."""


@dataclass(frozen=True)
class QuantizationResult:
    """What :func:`quantize_checkpoint` wrote. Byte counts come from the safetensors
    headers: "linear" is the storage of the quantized Linear layers (weights with their
    scales and zero points after, the full-precision weights before), "embedding" the
    token embedding (tied to ``lm_head``), "weights" all safetensors files."""

    scheme: str  # "fp8" | "int4"
    method: str  # "gptq" | "rtn" (FP8's per-channel scales need no calibration: "rtn")
    llmcompressor_scheme: str  # "FP8_DYNAMIC" | "W4A16"
    quantization_format: str  # compressed-tensors format: "float-quantized" | "pack-quantized"
    group_size: int | None  # 128 for int4, None for per-channel fp8
    source: Path
    output: Path
    size_bytes: int  # the whole output directory
    parent_size_bytes: int  # the whole source directory
    weights_bytes: int
    parent_weights_bytes: int
    linear_bytes_before: int
    linear_bytes_after: int
    embedding_bytes_before: int
    embedding_bytes_after: int
    quantized_layers: int
    unquantized_dtype: str  # storage of what is not quantized (embedding, norms)
    calibration_samples: int
    calibration_tokens: int
    seconds: float

    @property
    def compression_ratio(self) -> float:
        """Whole model: parent weights / quantized weights (2.5 means 2.5 times smaller)."""
        return self.parent_weights_bytes / self.weights_bytes

    @property
    def linear_compression_ratio(self) -> float:
        """The quantized Linear layers alone, scales included."""
        return self.linear_bytes_before / self.linear_bytes_after

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: paths as strings, the two ratios included."""
        data = {
            key: str(value) if isinstance(value, Path) else value
            for key, value in asdict(self).items()
        }
        data["compression_ratio"] = self.compression_ratio
        data["linear_compression_ratio"] = self.linear_compression_ratio
        return data


@dataclass(frozen=True)
class RetentionResult:
    """Held-out text scored by a parent and a candidate on the same tokens."""

    parent_perplexity: float
    candidate_perplexity: float
    top1_agreement: float  # share of positions whose argmax next token is the same
    mean_kl_divergence: float  # KL(parent || candidate) per position, in nats
    tokens: int  # predicted positions
    texts: int

    @property
    def perplexity_ratio(self) -> float:
        return self.candidate_perplexity / self.parent_perplexity

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "perplexity_ratio": self.perplexity_ratio}


@dataclass(frozen=True)
class TextSplit:
    calibration: tuple[str, ...]
    held_out: tuple[str, ...]


# --- text --------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MARKUP = re.compile(r"^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+", re.MULTILINE)


def tajik_texts_from_markdown(paths: Iterable[Path], *, words_per_text: int = 90) -> list[str]:
    """Cut Markdown files into plain-text chunks of ``words_per_text`` words.

    Front matter, HTML comments (page markers) and heading/list/quote markers are dropped
    and the text is NFC-normalised. Chunks never cross files; a file's last chunk is kept
    when it has at least half the words. At about 2.8 tokens per Tajik word, 90 words make
    some 250 tokens. Files are read in the order given (sort them for a stable result).
    """
    if words_per_text < 1:
        raise ValueError("words_per_text must be at least 1.")
    texts: list[str] = []
    for path in paths:
        raw = Path(path).read_text(encoding="utf-8").replace("\r\n", "\n")
        plain = _MARKUP.sub("", _COMMENT.sub(" ", _FRONT_MATTER.sub("", raw)))
        words = unicodedata.normalize("NFC", plain).replace("\u00ad", "").split()
        for start in range(0, len(words), words_per_text):
            chunk = words[start : start + words_per_text]
            if len(chunk) * 2 >= words_per_text:
                texts.append(" ".join(chunk))
    return texts


def split_calibration_held_out(texts: Sequence[str], *, held_out_every: int = 5) -> TextSplit:
    """Every ``held_out_every``-th text (the 5th, 10th, ...) is held out for evaluation,
    the rest calibrates: deterministic, and spread over every source."""
    if held_out_every < 2:
        raise ValueError("held_out_every must be at least 2.")
    calibration = tuple(t for i, t in enumerate(texts) if (i + 1) % held_out_every)
    held_out = tuple(t for i, t in enumerate(texts) if not (i + 1) % held_out_every)
    return TextSplit(calibration=calibration, held_out=held_out)


def text_split(
    paths: Iterable[Path], *, words_per_text: int = 90, held_out_every: int = 5
) -> TextSplit:
    """Tajik Markdown or text files (the demo textbooks by default, see the setting
    ``SORO_TAJIK_TEXT_DIR``) split for calibration and held-out evaluation."""
    texts = tajik_texts_from_markdown(sorted(paths), words_per_text=words_per_text)
    return split_calibration_held_out(texts, held_out_every=held_out_every)


# --- sizes -------------------------------------------------------------------------------


def _bytes_under(sizes: dict[str, int], prefixes: set[str]) -> int:
    return sum(size for name, size in sizes.items() if name.rsplit(".", 1)[0] in prefixes)


def _embedding_bytes(sizes: dict[str, int]) -> int:
    return sum(size for name, size in sizes.items() if "embed_tokens." in name)


# --- quantizing --------------------------------------------------------------------------


def _read_config(directory: Path) -> dict[str, Any]:
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise QuantizationError(f"No checkpoint at {directory}: config.json is missing.")
    try:
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise QuantizationError(f"{config_path} is not valid JSON: {error}") from error
    return config


def _quantization_config(config: dict[str, Any]) -> dict[str, Any] | None:
    found = config.get("quantization_config")
    if found is None and isinstance(config.get("text_config"), dict):
        found = config["text_config"].get("quantization_config")
    return found if isinstance(found, dict) else None


def _resolve_method(scheme: str, method: str | None, calibration_texts: Sequence[str]) -> str:
    if scheme not in SCHEMES:
        raise QuantizationError(
            f"Unknown quantization scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}."
        )
    if method is not None and method not in METHODS:
        raise QuantizationError(
            f"Unknown quantization method {method!r}; choose one of: {', '.join(METHODS)}."
        )
    if scheme == "fp8":
        if method == "gptq":
            raise QuantizationError(
                "FP8 takes no calibration: its per-channel scales are computed from the "
                "weights. Leave the method unset (or use rtn)."
            )
        return "rtn"
    method = method or "gptq"
    if method == "gptq" and not any(text.strip() for text in calibration_texts):
        raise QuantizationError(
            "INT4 with GPTQ needs calibration text: pass Tajik texts from the corpus or the "
            "textbooks, or use --method rtn (plain rounding, a much lossier fallback)."
        )
    return method


def _check_group_divisibility(source: Path) -> None:
    """Refuse, before loading any weight, layers int4 cannot cut into groups of 128:
    llm-compressor would fail deep inside its observers."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):  # the layer shapes without the weights
        skeleton = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(source))
    narrow = [
        f"{name} ({module.in_features} columns)"
        for name, module in skeleton.named_modules()
        if isinstance(module, torch.nn.Linear)
        and not name.endswith("lm_head")
        and module.in_features % INT4_GROUP_SIZE
    ]
    if narrow:
        raise QuantizationError(
            f"INT4 quantizes groups of {INT4_GROUP_SIZE} input columns, and these layers' "
            "widths are not a multiple of it: " + ", ".join(narrow[:5])
        )


def _calibration_dataset(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    max_samples: int,
    max_length: int,
) -> Any:
    from datasets import Dataset

    rows: list[list[int]] = []
    for text in texts:
        if len(rows) >= max_samples:
            break
        if not text.strip():
            continue
        ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
        if len(ids) >= 2:
            rows.append(list(ids))
    if not rows:
        raise QuantizationError("The calibration texts tokenize to nothing usable.")
    return Dataset.from_dict({"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]})


def _recipe(scheme: str, method: str) -> Any:
    preset, _ = _PRESETS[scheme]
    if method == "gptq":
        from llmcompressor.modifiers.gptq import GPTQModifier

        return GPTQModifier(targets="Linear", scheme=preset, ignore=["lm_head"])
    from llmcompressor.modifiers.quantization import QuantizationModifier

    return QuantizationModifier(targets="Linear", scheme=preset, ignore=["lm_head"])


def _small_parameters(model: PreTrainedModel) -> dict[str, torch.Tensor]:
    """Copies of the parameters quantization must not change: all but Linear and
    Embedding weights (norms, mostly), which are small."""
    import torch

    kept: dict[str, torch.Tensor] = {}
    for module_name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
            continue
        for name, parameter in module.named_parameters(recurse=False):
            kept[f"{module_name}.{name}"] = parameter.detach().clone()
    return kept


def _restore_parameters(model: PreTrainedModel, kept: dict[str, torch.Tensor]) -> None:
    """llm-compressor turns Gemma's ``x * (1 + w)`` norms into ``x * w'`` for calibration
    and back with ``w = w' - 1``, which in float32 loses the low bits of small weights;
    put the exact originals back."""
    import torch

    parameters = dict(model.named_parameters(remove_duplicate=False))
    with torch.no_grad():
        for name, original in kept.items():
            current = parameters.get(name)
            if current is not None and current.shape == original.shape:
                current.copy_(original.to(current.dtype))


def _store_unquantized_as(model: PreTrainedModel, dtype_name: StorageDtype) -> None:
    """Cast everything outside the quantized layers (embedding, norms) for storage. The
    quantized layers keep float32 scales, so their stored values are what float32
    quantization computed; servers run Gemma in bfloat16 anyway."""
    import torch

    if dtype_name == "float32":
        return
    dtype = torch.bfloat16
    for module in model.modules():
        if getattr(module, "quantization_scheme", None) is not None:
            continue
        for parameter in module.parameters(recurse=False):
            if parameter.is_floating_point():
                parameter.data = parameter.data.to(dtype)
    model.config.dtype = dtype  # type: ignore[assignment]


def _copy_serving_files(source: Path, destination: Path) -> None:
    for name in _SERVING_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, destination / name)


def quantize_checkpoint(
    *,
    source: Path,
    output: Path,
    scheme: SchemeName,
    calibration_texts: Sequence[str] = (),
    method: MethodName | None = None,
    max_calibration_samples: int = 128,
    max_sequence_length: int = 256,
    unquantized_dtype: StorageDtype = "bfloat16",
    progress: Progress | None = None,
) -> QuantizationResult:
    """Quantize the checkpoint at ``source`` into a new compressed-tensors directory.

    ``scheme`` is ``"fp8"`` (FP8_DYNAMIC, no calibration) or ``"int4"`` (W4A16, group
    128); ``method`` applies to int4 only: ``"gptq"`` (default; calibrated on up to
    ``max_calibration_samples`` of ``calibration_texts``, each cut to
    ``max_sequence_length`` tokens, taken in the order given) or ``"rtn"`` (plain
    rounding, the fallback). The source is loaded in float32 on the CPU and quantized
    with llm-compressor's ``oneshot``; what is not quantized (the embedding, norms) is
    stored as ``unquantized_dtype``. Tokenizer, chat template and generation config are
    copied from the source.

    Everything is written to a temporary directory beside ``output`` and renamed into
    place at the end: a failure at any point leaves neither. Raises
    :class:`QuantizationError` for an unknown scheme or method, a source that is missing
    or already quantized, int4 GPTQ without calibration text, layers whose width int4
    cannot group, and an existing ``output``.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    source, output = Path(source), Path(output)
    resolved_method = _resolve_method(scheme, method, calibration_texts)
    if max_calibration_samples < 1 or max_sequence_length < 2:
        raise QuantizationError(
            "max_calibration_samples must be at least 1 and max_sequence_length at least 2."
        )
    existing = _quantization_config(_read_config(source))
    if existing is not None:
        raise QuantizationError(
            f"{source} is already quantized ({existing.get('quant_method', 'unknown method')}, "
            f"format {existing.get('format', 'unknown')}); quantize its full-precision parent."
        )
    if output.exists():
        raise QuantizationError(f"{output} already exists; choose a new directory.")
    if unquantized_dtype not in get_args(StorageDtype):
        raise QuantizationError(f"Unknown storage dtype {unquantized_dtype!r}.")

    import torch
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report("loading", 0.0)
    try:
        if scheme == "int4":
            _check_group_divisibility(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as error:
        raise QuantizationError(f"Could not load the checkpoint at {source}: {error}") from error
    model.eval()

    dataset: Any = None
    samples = tokens = 0
    if resolved_method == "gptq":
        dataset = _calibration_dataset(
            tokenizer,
            calibration_texts,
            max_samples=max_calibration_samples,
            max_length=max_sequence_length,
        )
        samples = len(dataset)
        tokens = sum(len(ids) for ids in dataset["input_ids"])

    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{uuid.uuid4().hex}.partial")
    try:
        report("calibrating" if dataset is not None else "quantizing", 0.1)
        kept = _small_parameters(model)
        oneshot(
            model=model,
            tokenizer=tokenizer,
            recipe=_recipe(scheme, resolved_method),
            dataset=dataset,
            num_calibration_samples=max(samples, 1),
            max_seq_length=max_sequence_length,
            shuffle_calibration_samples=False,  # deterministic: the texts in order
            pipeline="independent",
        )
        _restore_parameters(model, kept)
        _store_unquantized_as(model, unquantized_dtype)
        report("saving", 0.8)
        model.save_pretrained(str(partial), save_compressed=True)
        _copy_serving_files(source, partial)
        saved = _quantization_config(_read_config(partial))
        expected_format = _PRESETS[scheme][1]
        if saved is None or saved.get("format") != expected_format:
            raise QuantizationError(
                f"llm-compressor wrote no {expected_format} quantization_config to "
                f"{partial / 'config.json'}; nothing was registered."
            )
        report("measuring", 0.95)
        before, after = tensor_bytes(source), tensor_bytes(partial)
        quantized = {name.rsplit(".", 1)[0] for name in after if name.endswith(".weight_scale")}
        result = QuantizationResult(
            scheme=scheme,
            method=resolved_method,
            llmcompressor_scheme=_PRESETS[scheme][0],
            quantization_format=expected_format,
            group_size=INT4_GROUP_SIZE if scheme == "int4" else None,
            source=source,
            output=output,
            size_bytes=directory_size(partial),
            parent_size_bytes=directory_size(source),
            weights_bytes=weights_size(partial),
            parent_weights_bytes=weights_size(source),
            linear_bytes_before=_bytes_under(before, quantized),
            linear_bytes_after=_bytes_under(after, quantized),
            embedding_bytes_before=_embedding_bytes(before),
            embedding_bytes_after=_embedding_bytes(after),
            quantized_layers=len(quantized),
            unquantized_dtype=unquantized_dtype,
            calibration_samples=samples,
            calibration_tokens=tokens,
            seconds=time.perf_counter() - started,
        )
        if output.exists():
            raise QuantizationError(f"{output} appeared while quantizing; nothing was moved.")
        os.replace(partial, output)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    report("done", 1.0)
    return result


# --- evaluating --------------------------------------------------------------------------


def is_quantized_checkpoint(directory: Path) -> bool:
    """Whether ``directory``'s config.json carries a quantization_config."""
    return _quantization_config(_read_config(Path(directory))) is not None


def load_fake_quantized(directory: Path, *, quantize_activations: bool = True) -> PreTrainedModel:
    """Load a compressed-tensors checkpoint on the CPU in float32, every quantized weight
    replaced by its dequantized value (``scale * q``), so the weights carry exactly the
    rounding error the server's do.

    FP8_DYNAMIC also rounds each Linear layer's input to FP8 per token at run time; the
    forward wrapper transformers installs does the same here (W4A16 has nothing to do).
    ``quantize_activations=False`` turns that off, to isolate the weights' error.
    """
    import torch
    from transformers import AutoModelForCausalLM, CompressedTensorsConfig

    directory = Path(directory)
    found = _quantization_config(_read_config(directory))
    if found is None or found.get("quant_method") != "compressed-tensors":
        raise QuantizationError(f"{directory} is not a compressed-tensors checkpoint.")
    with warnings.catch_warnings():
        # "the quantization_config from the model will be used": only dequantize is ours
        warnings.filterwarnings("ignore", message=".*already has a `quantization_config`")
        model = AutoModelForCausalLM.from_pretrained(
            directory,
            dtype=torch.float32,
            quantization_config=CompressedTensorsConfig(dequantize=True),
        )
    if not quantize_activations:
        for module in model.modules():
            if getattr(module, "quantization_scheme", None) is not None:
                module.quantization_enabled = False  # type: ignore[assignment]  # read by compressed-tensors
    model.eval()
    model.requires_grad_(False)
    return model


def _next_token_logits(model: PreTrainedModel, hidden: torch.Tensor) -> torch.Tensor:
    import torch

    logits = model.get_output_embeddings()(hidden).float()  # type: ignore[misc]
    softcap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return logits


def perplexity_and_agreement(
    *,
    parent: PreTrainedModel,
    candidate: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int = 256,
    chunk_positions: int = 64,
) -> RetentionResult:
    """Score held-out ``texts`` with both models on the same tokens: each model's
    perplexity, the share of positions where both predict the same next token (top-1
    agreement) and the mean KL divergence from the parent's distribution.

    One text is one forward pass per model (cut to ``max_length`` tokens, BOS included);
    the output head runs on ``chunk_positions`` positions at a time, so no full
    ``[tokens, vocabulary]`` log-softmax is kept. Texts shorter than two tokens are
    skipped; raises ``ValueError`` when nothing is left.
    """
    import torch

    if max_length < 2 or chunk_positions < 1:
        raise ValueError("max_length must be at least 2 and chunk_positions at least 1.")
    parent_nll = candidate_nll = kl_sum = 0.0
    agreed = count = used = 0
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
            if len(ids) < 2:
                continue
            used += 1
            batch = torch.tensor([list(ids)])
            targets = batch[0, 1:]
            hidden_parent = parent.get_decoder()(input_ids=batch).last_hidden_state[0, :-1]
            hidden_candidate = candidate.get_decoder()(input_ids=batch).last_hidden_state[0, :-1]
            for start in range(0, targets.numel(), chunk_positions):
                stop = start + chunk_positions
                wanted = targets[start:stop].unsqueeze(-1)
                log_parent = torch.log_softmax(
                    _next_token_logits(parent, hidden_parent[start:stop]), dim=-1
                )
                log_candidate = torch.log_softmax(
                    _next_token_logits(candidate, hidden_candidate[start:stop]), dim=-1
                )
                parent_nll -= float(log_parent.gather(-1, wanted).sum())
                candidate_nll -= float(log_candidate.gather(-1, wanted).sum())
                agreed += int((log_parent.argmax(-1) == log_candidate.argmax(-1)).sum())
                kl_sum += float(
                    (log_parent.exp() * (log_parent - log_candidate)).sum(-1).clamp_min(0).sum()
                )
                count += wanted.numel()
    if count == 0:
        raise ValueError("No text was long enough to score (two tokens at least).")
    return RetentionResult(
        parent_perplexity=math.exp(parent_nll / count),
        candidate_perplexity=math.exp(candidate_nll / count),
        top1_agreement=agreed / count,
        mean_kl_divergence=kl_sum / count,
        tokens=count,
        texts=used,
    )


def accuracy_retention(parent_acc: float, candidate_acc: float) -> float:
    """The share of the parent's accuracy the candidate keeps: ``candidate / parent``
    (above 1.0 when it does better). A parent at 0 has nothing to lose, so the share is
    1.0 whatever the candidate scores. Raises ``ValueError`` for a negative or
    non-finite accuracy."""
    for value in (parent_acc, candidate_acc):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"Accuracies must be finite and non-negative, not {value!r}.")
    if parent_acc == 0:
        return 1.0
    return candidate_acc / parent_acc
