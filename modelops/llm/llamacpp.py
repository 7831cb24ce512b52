"""The in-process CPU engine for int4/int8 exports: a GGUF run by llama.cpp.

:class:`GgufEngine` is a :class:`~modelops.llm.local.LocalEngine` with another forward
pass: the same prompt assembly and trimming (the platform's own tokenizer and chat
template, read from the export's directory), the same process-wide admission queue (the
CPU is shared by every model), stop strings, deadline, streaming and cancellation on close.
Only the logits come from llama.cpp (``llama-cpp-python``), whose int4/int8 kernels decode
several times faster than float32 PyTorch on a CPU (docs/benchmarks.md).

llama-cpp-python is optional; without it :meth:`GgufEngine.load` raises
``ModelUnavailable("load_failed")`` saying how to install it, and
:func:`modelops.services.generation.active_model_client` serves the export's float32
parent instead.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops.llm.local import (
    _QUEUE,
    GenerationStats,
    LocalEngine,
    _Stream,
)
from modelops.llm.streaming import IncrementalDecoder, StopMatcher
from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from modelops.llm.admission import Ticket

GGUF_FILE = "model.gguf"

_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[Path, int, int], _LoadedGguf] = {}


@dataclass
class _LoadedGguf:
    llm: Any  # llama_cpp.Llama; one context, used by one generation at a time (the queue)
    tokenizer: PreTrainedTokenizerBase
    stop_ids: frozenset[int]
    seconds: float
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)


def llama_cpp_missing() -> str | None:
    """Why llama-cpp-python cannot be used here (None when it can)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError as error:
        return f"llama-cpp-python is not installed ({error})"
    except OSError as error:
        return f"llama-cpp-python does not load ({error})"
    return None


def _load(directory: Path, n_ctx: int, threads: int) -> _LoadedGguf:
    from transformers import AutoTokenizer

    from modelops.llm.gemma import install_chat_template, stop_token_ids

    started = time.perf_counter()
    path = directory / GGUF_FILE
    if not path.is_file():
        raise ModelUnavailable("load_failed", f"No GGUF model at {path}.")
    missing = llama_cpp_missing()
    if missing:
        raise ModelUnavailable(
            "load_failed",
            f"{missing}; the CPU version at {directory} needs it. Install it with "
            "`.venv/bin/pip install -e '.[cpu]'` (needs a C/C++ compiler), or activate "
            "a float32 version.",
        )
    import llama_cpp

    count = threads or os.cpu_count() or 1
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
        llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_batch=min(n_ctx, 512),
            n_threads=count,
            n_threads_batch=count,
            verbose=False,
        )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelUnavailable(
            "load_failed", f"Could not load the CPU model at {directory}: {error}"
        ) from error
    if not tokenizer.chat_template:
        install_chat_template(tokenizer)
    stops = set(stop_token_ids(tokenizer))
    if tokenizer.eos_token_id is not None:
        stops.add(tokenizer.eos_token_id)
    return _LoadedGguf(
        llm=llm,
        tokenizer=tokenizer,
        stop_ids=frozenset(i for i in stops if isinstance(i, int)),
        seconds=time.perf_counter() - started,
    )


def loaded_gguf(directory: Path, n_ctx: int, threads: int) -> _LoadedGguf:
    """The process's copy of the export at ``directory``, loaded on first use."""
    key = (Path(directory).resolve(), n_ctx, threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(key[0], n_ctx, threads)
        return _LOADED[key]


def unload_all() -> None:
    """Forget every loaded export (after files are replaced, and in tests)."""
    with _LOAD_LOCK:
        for loaded in _LOADED.values():
            close = getattr(loaded.llm, "close", None)
            if close is not None:
                close()
        _LOADED.clear()


class GgufEngine(LocalEngine):
    """Generates with a llama.cpp GGUF export in this process, on the CPU.

    Same arguments and guarantees as :class:`LocalEngine`; ``threads`` is llama.cpp's
    thread count (None: one per core), ``head`` does not apply.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        max_waiting: int = 4,
        max_context_tokens: int = 4096,
        threads: int | None = None,
    ) -> None:
        super().__init__(
            model_dir,
            max_waiting=max_waiting,
            max_context_tokens=max_context_tokens,
            threads=threads,
        )
        self.name = f"llama.cpp:{self.model_dir.name}"

    def load(self) -> _LoadedGguf:  # type: ignore[override]
        return loaded_gguf(self.model_dir, self.max_context_tokens, self.threads or 0)

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        context: Sequence[str] = (),
    ) -> Iterator[str]:
        """As :meth:`LocalEngine.stream_chat`, with llama.cpp computing the logits."""
        deadline = time.monotonic() + params.timeout_s
        loaded = self.load()
        plan = self.plan(messages, params, context=context)
        prompt = self.prompt_ids(plan.messages)
        ticket = _QUEUE.reserve(self.max_waiting)
        stats = GenerationStats(prompt_tokens=len(prompt))
        pieces = _generate(loaded, prompt, params, ticket, deadline, stats)
        return _Stream(pieces, ticket, stats)

    def health(self) -> dict[str, Any]:
        """Whether the file and the library are there, and how busy the engine is."""
        queue = _QUEUE.snapshot()
        if not (self.model_dir / GGUF_FILE).is_file():
            return {"ok": False, "detail": f"no GGUF file at {self.model_dir / GGUF_FILE}"}
        missing = llama_cpp_missing()
        if missing:
            return {"ok": False, "detail": missing}
        loaded = any(key[0] == self.model_dir for key in _LOADED)
        state = "loaded" if loaded else "not loaded yet"
        return {
            "ok": True,
            "detail": f"llama.cpp, {state}; {queue['running']} running, "
            f"{queue['waiting']} waiting (max {self.max_waiting})",
        }


def _generate(
    loaded: _LoadedGguf,
    prompt: list[int],
    params: GenerationParams,
    ticket: Ticket,
    deadline: float,
    stats: GenerationStats,
) -> Iterator[str]:
    """Wait for the turn, then decode token by token with llama.cpp, yielding settled text."""
    import numpy as np

    llm, tokenizer = loaded.llm, loaded.tokenizer
    vocabulary = llm.n_vocab()

    def decode(ids: Sequence[int]) -> str:
        with loaded.tokenizer_lock:
            return tokenizer.decode(  # type: ignore[return-value]
                list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False
            )

    decoder = IncrementalDecoder(decode)
    stops = StopMatcher(params.stop)
    random = np.random.default_rng()

    def timed_out() -> ModelUnavailable:
        return ModelUnavailable(
            "timeout",
            f"The reply took longer than {params.timeout_s:g} s and was stopped; "
            "ask for a shorter answer or try again when the model is less busy.",
        )

    def forward(ids: list[int]) -> Any:
        return last_logits(llm, ids, vocabulary)

    def pick(logits: Any) -> int:
        if params.temperature <= 0:
            return int(np.argmax(logits))
        scaled = logits.astype(np.float64) / params.temperature
        scaled -= scaled.max()
        weights = np.exp(scaled)
        return int(random.choice(vocabulary, p=weights / weights.sum()))

    try:
        queued = time.perf_counter()
        _QUEUE.acquire(ticket, deadline)
        started = time.perf_counter()
        stats.queued_s = started - queued
        if time.monotonic() > deadline:
            raise timed_out()
        llm.reset()
        logits = forward(prompt)
        for produced in range(1, params.max_new_tokens + 1):
            token = pick(logits)
            now = time.perf_counter()
            if produced == 1:
                stats.prefill_s = now - started
            else:
                stats.decode_s += now - started
            started = now
            if token in loaded.stop_ids:
                break
            stats.generated_tokens = produced
            shown = stops.feed(decoder.push(token))
            if shown:
                yield shown
            if stops.stopped:
                return
            if produced == params.max_new_tokens:
                break
            if time.monotonic() > deadline:
                raise timed_out()
            logits = forward([token])
        tail = stops.feed(decoder.flush()) + stops.flush()
        if tail:
            yield tail
    finally:
        _QUEUE.release(ticket)


def last_logits(llm: Any, ids: Sequence[int], vocabulary: int) -> Any:
    """Feed ``ids`` to ``llm`` after what it holds and return the last position's logits (a
    numpy view of llama.cpp's buffer, valid until the next call)."""
    import numpy as np
    from llama_cpp import llama_get_logits_ith

    llm.eval(list(ids))
    pointer = llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(pointer, shape=(vocabulary,))


class GgufCausalLM:
    """A GGUF export behind the calls the evaluation core makes of a transformers model, so
    ``evaluate`` judges the exact weights a school runs:

    - ``score_continuations``: the log-probability of each request's last tokens and whether
      each was the argmax (lm-eval's definitions, read from llama.cpp's logits);
    - ``generate``: greedy continuations of left-padded rows, as ``model.generate`` returns
      them (prompt, then new tokens, then padding).

    Two llama.cpp contexts share the mapped file: one keeps every position's logits (for
    scoring, ``score_context`` tokens, about 1 MB of logits per token with Gemma's vocabulary)
    and one only the last (for generating). Requests longer than a context keep their last
    tokens, as ``loglikelihoods`` does with ``max_length``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        score_context: int = 1024,
        generate_context: int = 4096,
        threads: int = 0,
    ) -> None:
        import torch

        self.path = Path(directory) / GGUF_FILE
        if not self.path.is_file():
            raise ModelUnavailable("load_failed", f"No GGUF model at {self.path}.")
        missing = llama_cpp_missing()
        if missing:
            from modelops.cpu_export import INSTALL_HINT

            raise ModelUnavailable("load_failed", f"{missing}; {INSTALL_HINT}")
        self.score_context, self.generate_context = score_context, generate_context
        self.threads = threads or os.cpu_count() or 1
        self.device = torch.device("cpu")
        self._scorer: Any = None
        self._generator: Any = None

    def _open(self, n_ctx: int, *, logits_all: bool) -> Any:
        from modelops.cpu_export import open_gguf

        return open_gguf(self.path, n_ctx=n_ctx, logits_all=logits_all, threads=self.threads)

    def score_continuations(
        self, requests: Sequence[tuple[list[int], int]]
    ) -> list[tuple[float, bool]]:
        """For each ``(tokens, continuation length)``: the sum of the continuation tokens'
        log-probabilities and whether every one of them was the most likely token."""
        import numpy as np

        if self._scorer is None:
            self._scorer = self._open(self.score_context, logits_all=True)
        llm = self._scorer
        results = []
        for tokens, count in requests:
            tokens = tokens[-self.score_context :]
            count = min(count, len(tokens) - 1)
            llm.reset()
            llm.eval(tokens)
            logits = np.asarray(llm.scores[len(tokens) - count - 1 : len(tokens) - 1], np.float64)
            top = logits.max(axis=-1, keepdims=True)
            normaliser = top[:, 0] + np.log(np.exp(logits - top).sum(axis=-1))
            targets = np.asarray(tokens[-count:])
            chosen = logits[np.arange(count), targets]
            total = float((chosen - normaliser).sum())
            results.append((total, bool((logits.argmax(axis=-1) == targets).all())))
        return results

    def generate(
        self,
        *,
        input_ids: Any,
        attention_mask: Any,
        max_new_tokens: int,
        pad_token_id: int = 0,
        eos_token_id: int | Sequence[int] | None = None,
        do_sample: bool = False,
    ) -> Any:
        """Greedy: ``do_sample`` must be False (the evaluation never samples)."""
        import numpy as np
        import torch

        if do_sample:
            raise ValueError("GgufCausalLM generates greedily only")
        if self._generator is None:
            self._generator = self._open(self.generate_context, logits_all=False)
        llm = self._generator
        vocabulary = llm.n_vocab()
        if eos_token_id is None:
            stops: set[int] = set()
        elif isinstance(eos_token_id, int):
            stops = {eos_token_id}
        else:
            stops = set(eos_token_id)
        width = input_ids.shape[1]
        produced: list[list[int]] = []
        for row in range(input_ids.shape[0]):
            prompt = input_ids[row][attention_mask[row].bool()].tolist()
            prompt = prompt[-max(1, self.generate_context - max_new_tokens) :]
            llm.reset()
            logits = last_logits(llm, prompt, vocabulary)
            new: list[int] = []
            while len(new) < max_new_tokens:
                token = int(np.argmax(logits))
                new.append(token)
                if token in stops or len(new) == max_new_tokens:
                    break
                logits = last_logits(llm, [token], vocabulary)
            produced.append(new)
        longest = max((len(new) for new in produced), default=0)
        output = torch.full((input_ids.shape[0], width + longest), pad_token_id, dtype=torch.long)
        output[:, :width] = input_ids.cpu()
        for row, new in enumerate(produced):
            output[row, width : width + len(new)] = torch.tensor(new, dtype=torch.long)
        return output

    def close(self) -> None:
        for llm in (self._scorer, self._generator):
            if llm is not None:
                llm.close()
        self._scorer = self._generator = None
