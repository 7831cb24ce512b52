"""CPU exports: a full-precision checkpoint turned into a llama.cpp GGUF with int4/int8
kernels, for schools without GPUs.

- ``cpu-int4``: llama.cpp's ``Q4_K_M`` (4-bit k-quants; a few tensors in 6 bits).
- ``cpu-int8``: ``Q8_0`` (8-bit, one scale per 32 weights).

:func:`export_gguf` converts with llama.cpp's own ``convert_hf_to_gguf.py`` (float32 GGUF,
see :mod:`modelops.llamacpp_convert`) and quantizes with the library's
``llama_model_quantize``; the output directory holds ``model.gguf`` beside the platform's
tokenizer, chat template, ``config.json`` and a ``soro_cpu.json`` manifest, so the engine
(:mod:`modelops.llm.llamacpp`) tokenizes with exactly the tokenizer the platform fixed.
:func:`token_id_mismatches` checks that llama.cpp reads the same ids, and
:func:`gguf_retention` scores the export against its parent with llama.cpp itself.

llama-cpp-python is optional (it compiles from source): :func:`llama_cpp_problem` says why
it cannot be used, and callers fall back to the float32 engine. Nothing here imports Django.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops.checkpoints import directory_size, file_sha256
from modelops.quantization import RetentionResult

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Progress = Callable[[str, float], None]

GGUF_FILE = "model.gguf"
MANIFEST = "soro_cpu.json"
#: scheme -> (llama.cpp file type name, LLAMA_FTYPE_* value)
CPU_SCHEMES: dict[str, tuple[str, int]] = {
    "cpu-int4": ("Q4_K_M", 15),
    "cpu-int8": ("Q8_0", 7),
}
#: What a school installs to get the fast engine (the ``cpu`` extra of pyproject.toml).
INSTALL_HINT = (
    "install it with `.venv/bin/pip install -e '.[cpu]'` (it compiles llama.cpp: a C/C++ "
    "compiler and cmake are needed, about ten minutes on two cores)"
)
#: Copied from the source so the export tokenizes and formats turns as the parent does.
_TOKENIZER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "generation_config.json",
)
#: Tajik strings whose token ids must be the same in llama.cpp and the platform's tokenizer.
TAJIK_CHECK_STRINGS = (
    "Забони тоҷикӣ забони давлатии Ҷумҳурии Тоҷикистон аст.",
    "Ҳисоб кунед: 12 + 30 = 42. Ҷавоби дурустро интихоб намоед!",
    "Қонуни Ньютон: қувва ба ҳосили зарби масса ва шитоб баробар аст.",
    "Мактаббачагон ғизои солим мехӯранд ва ҳар рӯз китоб мехонанд.",
    "Дар соли 1991 Тоҷикистон истиқлолият ба даст овард; пойтахт — Душанбе.",
    "<start_of_turn>user\nСалом!<end_of_turn>\n<start_of_turn>model\n",
)


class CpuExportError(Exception):
    """The export cannot be made; the message says what to do."""


@dataclass(frozen=True)
class CpuExportResult:
    scheme: str
    quant_type: str  # "Q4_K_M" | "Q8_0"
    source: Path
    output: Path
    gguf_bytes: int
    size_bytes: int  # the whole output directory
    parent_size_bytes: int
    gguf_sha256: str
    llama_cpp_version: str
    convert_seconds: float
    quantize_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


# --- the optional library ------------------------------------------------------------------


def llama_cpp_problem() -> str | None:
    """None when llama-cpp-python imports; else why not, with how to install it."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError as error:
        return f"llama-cpp-python is not installed ({error}); {INSTALL_HINT}"
    except OSError as error:  # the shared library is there but does not load
        return f"llama-cpp-python does not load ({error}); reinstall it: {INSTALL_HINT}"
    return None


def llama_cpp_version() -> str:
    import llama_cpp

    return str(llama_cpp.__version__)


def _require_llama_cpp() -> Any:
    problem = llama_cpp_problem()
    if problem:
        raise CpuExportError(problem[0].upper() + problem[1:] + ".")
    import llama_cpp

    return llama_cpp


def is_gguf_export(directory: Path) -> bool:
    return (Path(directory) / GGUF_FILE).is_file()


# --- the converter -------------------------------------------------------------------------


def default_converter_dir(cache_dir: Path) -> Path:
    return cache_dir / "llama.cpp"


def converter_dir(cache_dir: Path, *, download: bool = True) -> Path:
    """llama.cpp's ``convert_hf_to_gguf.py`` with its ``conversion`` package and ``gguf-py``,
    taken from the sdist of the installed llama-cpp-python (so converter and runtime are the
    same llama.cpp) and kept under ``cache_dir/llama.cpp``. The sdist is fetched with
    ``pip download`` the first time (PyPI, about 75 MB) unless ``download`` is False."""
    target = default_converter_dir(cache_dir)
    if (target / "convert_hf_to_gguf.py").is_file() and (target / "gguf-py").is_dir():
        return target
    if not download:
        raise CpuExportError(
            f"llama.cpp's converter is not at {target}; run `make llama-cpp-converter`."
        )
    version = llama_cpp_version() if llama_cpp_problem() is None else None
    requirement = f"llama-cpp-python=={version}" if version else "llama-cpp-python>=0.3.30,<0.4"
    downloads = cache_dir / "sdist"
    downloads.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
            *("--no-binary", ":all:", "--dest", str(downloads), requirement),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    archives = sorted(downloads.glob("llama_cpp_python-*.tar.gz"))
    if version:
        archives = [a for a in archives if a.name == f"llama_cpp_python-{version}.tar.gz"]
    if not archives:
        raise CpuExportError(
            f"Could not download the llama-cpp-python sdist for its converter "
            f"({requirement}): {fetched.stderr.strip()[-500:]}"
        )
    extract_converter(archives[-1], target)
    return target


def extract_converter(archive: Path, target: Path) -> None:
    """Unpack the converter files of a llama-cpp-python sdist into ``target`` (atomic)."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    wanted = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
    try:
        with tarfile.open(archive) as sdist:
            for member in sdist.getmembers():
                _, _, inner = member.name.partition("/vendor/llama.cpp/")
                if not inner or not inner.startswith(wanted) or not member.isfile():
                    continue
                destination = partial / inner
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = sdist.extractfile(member)
                if source is not None:
                    destination.write_bytes(source.read())
        if not (partial / "convert_hf_to_gguf.py").is_file():
            raise CpuExportError(f"{archive} holds no vendor/llama.cpp/convert_hf_to_gguf.py.")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


# --- exporting -----------------------------------------------------------------------------


def export_gguf(
    *,
    source: Path,
    output: Path,
    scheme: str,
    vocabulary_gguf: Path,
    converter: Path,
    threads: int = 0,
    progress: Progress | None = None,
) -> CpuExportResult:
    """Export the float checkpoint at ``source`` to ``output/model.gguf`` in ``scheme``.

    ``vocabulary_gguf`` is the GGUF whose ``tokenizer.ggml.*`` fields the export carries
    (the packaged base model's: the platform's tokenizer was built from it). Written to a
    temporary directory beside ``output`` and renamed at the end; a failure leaves nothing.
    """
    report = progress or (lambda stage, fraction: None)
    if scheme not in CPU_SCHEMES:
        raise CpuExportError(
            f"Unknown CPU scheme {scheme!r}; choose one of: {', '.join(CPU_SCHEMES)}."
        )
    llama_cpp = _require_llama_cpp()
    source, output = Path(source), Path(output)
    if not (source / "config.json").is_file() or not any(source.glob("*.safetensors")):
        raise CpuExportError(f"{source} is not a Hugging Face checkpoint with safetensors.")
    if output.exists():
        raise CpuExportError(f"{output} already exists; choose a new directory.")
    quant_type, ftype = CPU_SCHEMES[scheme]
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{uuid.uuid4().hex}.partial")
    partial.mkdir()
    try:
        report("converting with llama.cpp", 0.0)
        started = time.perf_counter()
        float_file = partial / "model-f32.gguf"
        converted = subprocess.run(
            [
                *(sys.executable, "-m", "modelops.llamacpp_convert", str(converter)),
                *(str(source), str(float_file), str(vocabulary_gguf)),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
            env={**os.environ, "NO_LOCAL_GGUF": "1"},
        )
        if converted.returncode != 0 or not float_file.is_file():
            raise CpuExportError(
                f"llama.cpp's converter failed on {source}: {converted.stderr.strip()[-800:]}"
            )
        convert_seconds = time.perf_counter() - started
        report(f"quantizing to {quant_type}", 0.5)
        started = time.perf_counter()
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        params.nthread = threads
        quantized_file = partial / GGUF_FILE
        status = llama_cpp.llama_model_quantize(
            str(float_file).encode(), str(quantized_file).encode(), llama_cpp.byref(params)
        )
        if status != 0 or not quantized_file.is_file():
            raise CpuExportError(f"llama.cpp could not quantize {float_file} (status {status}).")
        quantize_seconds = time.perf_counter() - started
        float_file.unlink()
        for name in _TOKENIZER_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, partial / name)
        digest = file_sha256(quantized_file)
        manifest = {
            "format": "gguf",
            "scheme": scheme,
            "quant_type": quant_type,
            "gguf_file": GGUF_FILE,
            "gguf_sha256": digest,
            "llama_cpp_python": llama_cpp_version(),
            "source": str(source),
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        result = CpuExportResult(
            scheme=scheme,
            quant_type=quant_type,
            source=source,
            output=output,
            gguf_bytes=quantized_file.stat().st_size,
            size_bytes=directory_size(partial),
            parent_size_bytes=directory_size(source),
            gguf_sha256=digest,
            llama_cpp_version=llama_cpp_version(),
            convert_seconds=convert_seconds,
            quantize_seconds=quantize_seconds,
        )
        if output.exists():
            raise CpuExportError(f"{output} appeared while exporting; nothing was moved.")
        os.replace(partial, output)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    report("done", 1.0)
    return result


# --- checking --------------------------------------------------------------------------------


def open_gguf(path: Path, *, n_ctx: int = 512, logits_all: bool = False, threads: int = 0) -> Any:
    """A ``llama_cpp.Llama`` on ``path``, quiet; ``threads`` 0 means one per core."""
    llama_cpp = _require_llama_cpp()
    count = threads or os.cpu_count() or 1
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_batch=min(n_ctx, 512),
        logits_all=logits_all,
        n_threads=count,
        n_threads_batch=count,
        verbose=False,
    )


def token_id_mismatches(
    directory: Path, texts: Sequence[str] = TAJIK_CHECK_STRINGS, *, llm: Any = None
) -> list[str]:
    """The texts on which llama.cpp (the export's vocabulary) and the platform's tokenizer
    (``directory``'s tokenizer.json) give different token ids; empty when all agree."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    llm = llm or open_gguf(Path(directory) / GGUF_FILE, n_ctx=64)
    wrong = []
    for text in texts:
        ours = list(tokenizer(text)["input_ids"])
        theirs = list(llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))
        if ours != theirs:
            wrong.append(text)
    return wrong


def gguf_retention(
    *,
    parent_dir: Path,
    gguf_path: Path,
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase | None = None,
    max_length: int = 256,
    chunk_positions: int = 64,
) -> RetentionResult:
    """Held-out ``texts`` scored by the float32 parent (transformers) and by the export
    through llama.cpp, on the same token ids: the figures of
    :func:`modelops.quantization.perplexity_and_agreement`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modelops.quantization import _next_token_logits

    if max_length < 2:
        raise ValueError("max_length must be at least 2.")
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(parent_dir)
    parent = AutoModelForCausalLM.from_pretrained(parent_dir, dtype=torch.float32).eval()
    llm = open_gguf(gguf_path, n_ctx=max_length, logits_all=True)
    parent_nll = candidate_nll = kl_sum = 0.0
    agreed = count = used = 0
    with torch.inference_mode():
        for text in texts:
            ids = list(tokenizer(text, truncation=True, max_length=max_length)["input_ids"])
            if len(ids) < 2:
                continue
            used += 1
            targets = torch.tensor(ids[1:])
            hidden = parent.get_decoder()(input_ids=torch.tensor([ids])).last_hidden_state[0, :-1]
            llm.reset()
            llm.eval(ids)
            candidate_logits = torch.from_numpy(llm.scores[: len(ids) - 1].copy())
            for start in range(0, targets.numel(), chunk_positions):
                stop = start + chunk_positions
                wanted = targets[start:stop].unsqueeze(-1)
                log_parent = torch.log_softmax(
                    _next_token_logits(parent, hidden[start:stop]), dim=-1
                )
                log_candidate = torch.log_softmax(candidate_logits[start:stop].float(), dim=-1)
                parent_nll -= float(log_parent.gather(-1, wanted).sum())
                candidate_nll -= float(log_candidate.gather(-1, wanted).sum())
                agreed += int((log_parent.argmax(-1) == log_candidate.argmax(-1)).sum())
                kl_sum += float(
                    (log_parent.exp() * (log_parent - log_candidate)).sum(-1).clamp_min(0).sum()
                )
                count += wanted.numel()
    llm.close()
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
