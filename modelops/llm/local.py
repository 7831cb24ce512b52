"""The in-process engine: a Hugging Face checkpoint generating on this machine's CPU.

One model load per process and path, shared by every :class:`LocalEngine` made for it; one
generation at a time for the whole process (see :mod:`modelops.llm.admission`), real token
streaming, stop strings, a server-side deadline, and a generator that stops the work when
it is closed.

The decoding loop is written here rather than taken from ``model.generate`` because the
speed of a small model on a CPU is set by a few things ``generate`` does not offer at once:
the output layer (262,144 rows x 640) is applied to the last position only, during prefill
too; every forward pass runs under ``torch.inference_mode``; and the loop can stop between
any two tokens when the user leaves or the deadline passes, without a helper thread.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modelops.llm.admission import AdmissionQueue, Ticket
from modelops.llm.budget import PromptPlan, plan_prompt
from modelops.llm.streaming import IncrementalDecoder, StopMatcher
from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: How the output layer (262,144 x 640, 0.67 GB in float32, read in full for every token)
#: is computed. "float32" is exact. "bfloat16" keeps a bfloat16 copy of that one matrix and
#: halves the memory traffic that limits decoding on a CPU; the rest of the model stays
#: float32. docs/benchmarks.md reports how often it changes the top token.
HeadKind = Literal["float32", "bfloat16"]

#: Process-wide: the CPU is shared by every model, so generations take turns across them.
_QUEUE = AdmissionQueue()

_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[Path, str], _LoadedModel] = {}


@dataclass
class _LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    stop_ids: frozenset[int]
    head: Callable[[torch.Tensor], torch.Tensor]
    seconds: float
    # A fast tokenizer may refuse a call while another thread is inside it ("Already
    # borrowed"); requests count tokens while the running one decodes.
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)


def _output_head(model: PreTrainedModel, kind: HeadKind) -> Callable[[Any], Any]:
    """Logits from the final hidden state of one position."""
    import torch

    weight = model.get_output_embeddings().weight  # type: ignore[no-untyped-call]
    softcap = getattr(model.config, "final_logit_softcapping", None)
    if kind == "float32":

        def project(hidden: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.linear(hidden, weight)

    elif kind == "bfloat16":
        low = weight.detach().to(torch.bfloat16).contiguous()

        def project(hidden: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.linear(hidden.to(torch.bfloat16), low).float()

    else:
        raise ValueError(f"unknown output head kind {kind!r}")

    if softcap is None:
        return project

    def capped(hidden: torch.Tensor) -> torch.Tensor:
        capped_logits: torch.Tensor = torch.tanh(project(hidden) / softcap) * softcap
        return capped_logits

    return capped


def _load(model_dir: Path, head: HeadKind) -> _LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modelops.llm.gemma import install_chat_template, stop_token_ids

    started = time.perf_counter()
    if not (model_dir / "config.json").is_file():
        raise ModelUnavailable("load_failed", f"No model at {model_dir}: config.json is missing.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(
            model_dir,
            dtype=torch.float32,  # Gemma 3 overflows float16 (NaN logits)
            attn_implementation="sdpa",
        )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelUnavailable(
            "load_failed", f"Could not load the model at {model_dir}: {error}"
        ) from error
    model.eval()  # type: ignore[no-untyped-call]
    model.requires_grad_(False)
    if not tokenizer.chat_template and model.config.model_type.startswith("gemma"):
        install_chat_template(tokenizer)
    stops = set(stop_token_ids(tokenizer))
    configured = model.generation_config.eos_token_id
    stops.update(configured if isinstance(configured, list) else [configured] * bool(configured))
    return _LoadedModel(
        model=model,
        tokenizer=tokenizer,
        stop_ids=frozenset(i for i in stops if isinstance(i, int)),
        head=_output_head(model, head),
        seconds=time.perf_counter() - started,
    )


def loaded_model(model_dir: Path, head: HeadKind = "float32") -> _LoadedModel:
    """The process's copy of the model at ``model_dir``, loaded on first use."""
    key = (Path(model_dir).resolve(), head)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(key[0], head)
        return _LOADED[key]


def unload_all() -> None:
    """Forget every loaded model (after an administrator replaces files, and in tests)."""
    with _LOAD_LOCK:
        _LOADED.clear()


@dataclass
class GenerationStats:
    """Timings of one reply, filled in as it is generated (for logs and benchmarks)."""

    prompt_tokens: int
    generated_tokens: int = 0
    queued_s: float = 0.0  # waiting for the turn
    prefill_s: float = 0.0  # the prompt's forward pass up to the first token's logits
    decode_s: float = 0.0  # every later forward pass


class _Stream(Iterator[str]):
    """The reply iterator. Closing it (or dropping it) stops generation and frees the
    turn, also when it was closed before it started. ``stats`` fills in as it runs."""

    def __init__(self, pieces: Iterator[str], ticket: Ticket, stats: GenerationStats) -> None:
        self._pieces = pieces
        self._ticket = ticket
        self.stats = stats
        # A stream dropped without close() still gives its turn back when collected.
        self._finalizer = weakref.finalize(self, _QUEUE.release, ticket)

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._pieces)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        self._finalizer()


class LocalEngine:
    """Generates with a Hugging Face checkpoint in this process, on the CPU, in float32.

    ``max_waiting`` requests may wait while one runs; more get ``busy`` at once.
    ``max_context_tokens`` bounds prompt plus reply. ``threads`` sets torch's intra-op
    threads for the whole process (None keeps torch's choice, one per core).
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        max_waiting: int = 4,
        max_context_tokens: int = 4096,
        threads: int | None = None,
        head: HeadKind = "float32",
    ) -> None:
        self.model_dir = Path(model_dir).resolve()
        self.name = f"local:{self.model_dir.name}"
        self.max_waiting = max_waiting
        self.max_context_tokens = max_context_tokens
        self.threads = threads
        self.head: HeadKind = head

    def load(self) -> _LoadedModel:
        """Load now (a no-op when this process already has it); ``load_failed`` on error."""
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        return loaded_model(self.model_dir, self.head)

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Token ids of the conversation as the model sees it, ready for its reply."""
        loaded = self.load()
        with loaded.tokenizer_lock:
            ids = loaded.tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                tokenize=True,
                return_dict=False,
            )
        return list(ids)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt length in tokens, chat template included."""
        return len(self.prompt_ids(messages))

    def plan(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        context: Sequence[str] = (),
    ) -> PromptPlan:
        """What :meth:`stream_chat` will send: the trimmed conversation and the passages
        kept, fitted so that the prompt plus ``max_new_tokens`` stays within context."""
        _check_params(params)
        budget = self.max_context_tokens - params.max_new_tokens
        if budget <= 0:
            raise ModelUnavailable(
                "invalid_request",
                f"max_new_tokens {params.max_new_tokens} leaves no room for a prompt in "
                f"{self.max_context_tokens} tokens of context.",
            )
        return plan_prompt(
            messages, context=context, count_tokens=self.count_tokens, max_prompt_tokens=budget
        )

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        context: Sequence[str] = (),
    ) -> Iterator[str]:
        """Start a reply and return an iterator of its text pieces.

        Checked at once, before anything is yielded: the request (``invalid_request``), the
        prompt length after trimming (``too_long``), the model (``load_failed``) and room in
        the queue (``busy``). While iterating: waiting for the turn and generating both
        count against ``params.timeout_s`` (``timeout``, after the pieces produced so far).
        """
        deadline = time.monotonic() + params.timeout_s
        loaded = self.load()
        plan = self.plan(messages, params, context=context)
        prompt = self.prompt_ids(plan.messages)
        ticket = _QUEUE.reserve(self.max_waiting)
        stats = GenerationStats(prompt_tokens=len(prompt))
        pieces = _generate(loaded, prompt, params, ticket, deadline, stats)
        return _Stream(pieces, ticket, stats)

    def health(self) -> dict[str, Any]:
        """Whether the files are there and how busy the engine is; never loads or runs."""
        queue = _QUEUE.snapshot()
        if not (self.model_dir / "config.json").is_file():
            return {"ok": False, "detail": f"no model files at {self.model_dir}"}
        loaded = any(key[0] == self.model_dir for key in _LOADED)
        state = "loaded" if loaded else "not loaded yet"
        return {
            "ok": True,
            "detail": f"{state}; {queue['running']} running, {queue['waiting']} waiting "
            f"(max {self.max_waiting})",
        }


def _check_params(params: GenerationParams) -> None:
    if params.max_new_tokens < 1:
        raise ModelUnavailable("invalid_request", "max_new_tokens must be at least 1.")
    if params.temperature < 0:
        raise ModelUnavailable("invalid_request", "temperature must not be negative.")
    if params.timeout_s <= 0:
        raise ModelUnavailable("invalid_request", "timeout_s must be positive.")


def _generate(
    loaded: _LoadedModel,
    prompt: list[int],
    params: GenerationParams,
    ticket: Ticket,
    deadline: float,
    stats: GenerationStats,
) -> Iterator[str]:
    """Wait for the turn, then decode token by token, yielding text as it settles."""
    import torch
    from transformers import DynamicCache

    model, tokenizer = loaded.model, loaded.tokenizer

    def decode(ids: Sequence[int]) -> str:
        with loaded.tokenizer_lock:
            return tokenizer.decode(  # type: ignore[return-value]
                list(ids),
                skip_special_tokens=True,
                clean_up_tokenization_spaces=False,
            )

    decoder = IncrementalDecoder(decode)
    stops = StopMatcher(params.stop)

    def timed_out() -> ModelUnavailable:
        return ModelUnavailable(
            "timeout",
            f"The reply took longer than {params.timeout_s:g} s and was stopped; "
            "ask for a shorter answer or try again when the model is less busy.",
        )

    def forward(ids: list[int], cache: Any) -> torch.Tensor:
        # inference_mode per call, never around a yield: the consumer's code between two
        # pieces must not run in inference mode (it is thread-local state).
        with torch.inference_mode():
            outputs = model.model(
                input_ids=torch.tensor([ids]), past_key_values=cache, use_cache=True
            )
            hidden = outputs.last_hidden_state[:, -1, :]
            return loaded.head(hidden)[0]

    def pick(logits: torch.Tensor) -> int:
        if params.temperature <= 0:
            return int(torch.argmax(logits))
        probabilities = torch.softmax(logits.float() / params.temperature, dim=-1)
        return int(torch.multinomial(probabilities, 1))

    try:
        queued = time.perf_counter()
        _QUEUE.acquire(ticket, deadline)
        started = time.perf_counter()
        stats.queued_s = started - queued
        cache = DynamicCache(config=model.config)
        if time.monotonic() > deadline:
            raise timed_out()
        logits = forward(prompt, cache)
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
            logits = forward([token], cache)
        tail = stops.feed(decoder.flush()) + stops.flush()
        if tail:
            yield tail
    finally:
        _QUEUE.release(ticket)
