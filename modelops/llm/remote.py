"""The client for a model server speaking the OpenAI chat-completions API.

Text Generation Inference's Messages API, vLLM, SGLang, llama.cpp's server and
``transformers serve`` all speak it; ``huggingface_hub.InferenceClient`` is the client.

Failures become :class:`ModelUnavailable` with a reason the UI can translate:

=============================================  ======================  =========
what happened                                  reason                  retried
=============================================  ======================  =========
connection refused / reset / DNS (httpx)       ``down``                yes
HTTP 429                                       ``busy``                yes
HTTP 502, 503                                  ``down``                yes
HTTP 400/422 saying the prompt is too long     ``too_long``            no
other HTTP 4xx                                 ``invalid_request``     no
HTTP 408/504, read timeout, deadline passed    ``timeout``             no
other HTTP 5xx                                 ``down``                no
stream broken after the first piece            ``interrupted``         no
=============================================  ======================  =========

Retries (exponential backoff, ``Retry-After`` honoured within the deadline) happen only
before the first piece arrives: after that, repeating the request would repeat text the
user has already seen.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
from huggingface_hub import InferenceClient, constants, set_client_factory
from huggingface_hub.errors import (
    HfHubHTTPError,
    InferenceTimeoutError,
    OverloadedError,
    TextGenerationError,
    ValidationError,
)

from modelops.llm.budget import TokenCounter, plan_prompt
from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable

_RETRY_STATUSES = frozenset({429, 502, 503})
_LENGTH_HINTS = (
    "must be <=",  # TGI: `inputs` tokens + `max_new_tokens` must be <= 4096
    "maximum context length",  # vLLM, OpenAI
    "context length",
    "too long",
    "exceeds",
    "exceed_context_size",  # llama.cpp server
)


_factory_lock = threading.Lock()
_factory_installed = False


def _is_hub_host(host: str) -> bool:
    hub = (httpx.URL(constants.ENDPOINT).host, "huggingface.co", "hf.co")
    return any(host == name or host.endswith("." + name) for name in hub if name)


def _hub_client_allowing_model_servers() -> httpx.Client:
    """huggingface_hub's own HTTP client, except that offline mode blocks only the Hub.

    With ``HF_HUB_OFFLINE=1`` (Soro's default, so that no weights are ever downloaded at
    run time) the hub's request hook refuses *every* URL, the school's own TGI server
    included. Here the hook still runs for Hub hosts, so the Hub stays unreachable, and is
    skipped for the model server an administrator configured.
    """
    from huggingface_hub.utils import _http

    def request_hook(request: httpx.Request) -> None:
        if constants.is_offline_mode() and not _is_hub_host(request.url.host):
            return
        _http.hf_request_event_hook(request)

    return httpx.Client(
        event_hooks={"request": [request_hook]}, follow_redirects=True, timeout=None
    )


def _allow_model_servers_offline() -> None:
    global _factory_installed
    with _factory_lock:
        if not _factory_installed and constants.is_offline_mode():
            set_client_factory(_hub_client_allowing_model_servers)
            _factory_installed = True


class _Retryable(Exception):
    """A failure before the first piece that another attempt may cure."""

    def __init__(self, final: ModelUnavailable, retry_after: float | None = None) -> None:
        super().__init__(final.message)
        self.final = final
        self.retry_after = retry_after


def _mentions_length(text: str) -> bool:
    lowered = text.lower()
    return any(hint in lowered for hint in _LENGTH_HINTS)


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _response_text(response: httpx.Response) -> str:
    try:
        response.read()
        return response.text
    except (httpx.HTTPError, RuntimeError):
        return ""


def _classify_http(error: HfHubHTTPError, url: str) -> ModelUnavailable | _Retryable:
    response = error.response
    status = response.status_code if response is not None else 0
    body = _response_text(response) if response is not None else ""
    detail = (body or str(error)).strip()[:500]
    if status == 429:
        return _Retryable(
            ModelUnavailable("busy", f"The model server at {url} is overloaded (429): {detail}"),
            _retry_after(response),
        )
    if status in (502, 503):
        return _Retryable(
            ModelUnavailable(
                "down",
                f"The model server at {url} is unavailable ({status}); check that it is "
                f"running and has finished loading: {detail}",
            ),
            _retry_after(response),
        )
    if status in (408, 504):
        return ModelUnavailable("timeout", f"The model server at {url} timed out ({status}).")
    if status in (400, 413, 422) and _mentions_length(detail):
        return ModelUnavailable("too_long", f"The model server refused the prompt: {detail}")
    if 400 <= status < 500:
        return ModelUnavailable(
            "invalid_request", f"The model server refused the request ({status}): {detail}"
        )
    return ModelUnavailable("down", f"The model server at {url} failed ({status}): {detail}")


class RemoteClient:
    """Streams chat replies from an OpenAI-compatible server at ``base_url``.

    ``timeout_s`` bounds each network wait (connecting, each read); the request as a whole
    is bounded by ``GenerationParams.timeout_s``. Trimming of passages and old turns to the
    server's context happens here only when ``max_context_tokens`` and ``count_tokens``
    are given; otherwise the server's own length check answers with ``too_long``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 60,
        max_context_tokens: int | None = None,
        count_tokens: TokenCounter | None = None,
        headers: dict[str, str] | None = None,
        api_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"remote:{model or self.base_url}"
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.max_context_tokens = max_context_tokens
        self.count_tokens = count_tokens
        self.headers = headers or {}
        # Without a key the hub falls back to the machine's Hugging Face token and would
        # send it to this server; a placeholder keeps that token at home.
        self.api_key = api_key or "no-key"
        self._sleep: Callable[[float], None] = time.sleep
        _allow_model_servers_offline()

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        context: Sequence[str] = (),
    ) -> Iterator[str]:
        """Send the conversation and return an iterator of reply pieces.

        The request is checked and the prompt planned at once; the connection is made when
        iteration starts. Closing the iterator closes the HTTP stream, which makes the
        server stop generating.
        """
        if params.max_new_tokens < 1 or params.temperature < 0 or params.timeout_s <= 0:
            raise ModelUnavailable(
                "invalid_request",
                "max_new_tokens must be at least 1, temperature not negative and "
                "timeout_s positive.",
            )
        if self.max_context_tokens is not None and self.count_tokens is not None:
            budget = self.max_context_tokens - params.max_new_tokens
            counter = self.count_tokens
        else:
            budget, counter = sys.maxsize, (lambda _messages: 0)
        plan = plan_prompt(
            messages, context=context, count_tokens=counter, max_prompt_tokens=budget
        )
        payload = [{"role": m.role, "content": m.content} for m in plan.messages]
        return self._stream(payload, params)

    def _stream(self, payload: list[dict[str, str]], params: GenerationParams) -> Iterator[str]:
        deadline = time.monotonic() + params.timeout_s
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ModelUnavailable(
                    "timeout", f"No reply from {self.base_url} within {params.timeout_s:g} s."
                )
            client = InferenceClient(
                base_url=self.base_url,
                timeout=min(self.timeout_s, remaining),
                headers=self.headers,
                api_key=self.api_key,
            )
            received_any = False
            try:
                try:
                    chunks = client.chat_completion(
                        payload,
                        model=self.model,
                        stream=True,
                        max_tokens=params.max_new_tokens,
                        temperature=params.temperature,
                        stop=list(params.stop) or None,
                    )
                    finished = False
                    for chunk in chunks:
                        for choice in chunk.choices:
                            piece = choice.delta.content if choice.delta else None
                            if piece:
                                received_any = True
                                yield piece
                            if choice.finish_reason:
                                finished = True
                        if time.monotonic() > deadline:
                            raise ModelUnavailable(
                                "timeout",
                                f"The reply took longer than {params.timeout_s:g} s and was "
                                "stopped.",
                            )
                    if not finished:
                        # The server closed the stream cleanly but never said it was done.
                        raise httpx.RemoteProtocolError("stream ended without finish_reason")
                    return
                except ModelUnavailable:
                    raise
                except Exception as error:  # every failure becomes one of our reasons
                    failure = self._classify(error, received_any)
            finally:
                client.close()  # type: ignore[no-untyped-call]

            if isinstance(failure, ModelUnavailable):
                raise failure
            if attempt >= self.max_retries:
                raise failure.final
            wait = max(self.backoff_s * (2**attempt), failure.retry_after or 0.0)
            if time.monotonic() + wait >= deadline:
                raise failure.final
            attempt += 1
            self._sleep(wait)

    def _classify(self, error: Exception, received_any: bool) -> ModelUnavailable | _Retryable:
        url = self.base_url
        if received_any:
            if isinstance(error, httpx.TimeoutException | InferenceTimeoutError | TimeoutError):
                return ModelUnavailable("timeout", f"The model server at {url} stopped sending.")
            return ModelUnavailable(
                "interrupted",
                f"The reply from {url} broke off before it was complete ({error!r}); "
                "the part already shown is kept.",
            )
        if isinstance(error, HfHubHTTPError):
            return _classify_http(error, url)
        # TGI can also report a failure as an error event inside a 200 stream.
        if isinstance(error, OverloadedError):
            return _Retryable(ModelUnavailable("busy", f"The model server at {url} is overloaded."))
        if isinstance(error, ValidationError):
            reason = "too_long" if _mentions_length(str(error)) else "invalid_request"
            return ModelUnavailable(reason, f"The model server refused the request: {error}")
        if isinstance(error, TextGenerationError):
            return ModelUnavailable("down", f"The model server at {url} failed: {error}")
        if isinstance(
            error, httpx.TimeoutException | InferenceTimeoutError | TimeoutError
        ) and not isinstance(error, httpx.ConnectTimeout):
            return ModelUnavailable("timeout", f"The model server at {url} did not answer in time.")
        if isinstance(error, httpx.TransportError | ConnectionError):
            # Refused, reset, unreachable or closed before anything came: it may be
            # restarting, so another attempt is worth it.
            return _Retryable(
                ModelUnavailable(
                    "down",
                    f"Cannot reach the model server at {url} ({error.__class__.__name__}); "
                    "check that it is running and the URL is right.",
                )
            )
        if isinstance(error, ValueError):  # a malformed event from the server
            return ModelUnavailable(
                "down", f"The model server at {url} sent a reply that is not understood: {error}"
            )
        raise error

    def health(self) -> dict[str, Any]:
        """GET ``/health`` (TGI, vLLM, llama.cpp), else ``/v1/models``, with a short timeout."""
        root = self.base_url.removesuffix("/v1")
        timeout = min(self.timeout_s, 3.0)
        problems = []
        for path in ("/health", "/v1/models"):
            try:
                response = httpx.get(root + path, timeout=timeout, headers=self.headers)
            except httpx.HTTPError as error:
                return {"ok": False, "detail": f"{root}: {error.__class__.__name__}: {error}"}
            if response.status_code < 400:
                return {"ok": True, "detail": f"{root}{path}: {response.status_code}"}
            problems.append(f"{path}: {response.status_code}")
        return {"ok": False, "detail": f"{root}: " + ", ".join(problems)}
