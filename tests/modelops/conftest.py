"""Fixtures for the language-model runtime: the real tokenizer, a tiny real Gemma 3, and a
real OpenAI-compatible HTTP server on loopback that runs it.

Nothing here is a double: the tiny model is a Gemma3ForCausalLM with random weights and
the real tokenizer, loaded through the same code as the 270M model, and the server speaks
the chat-completions streaming format over real sockets.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modelops.llm import gemma
from modelops.llm.local import LocalEngine
from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable
from modelops.models import ModelVersion


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    """The packaged GGUF, assembled into var/cache (or $SORO_CACHE_DIR) on first use."""
    directory, name = gemma.locate_packaged_gguf()
    return directory / name


@pytest.fixture(scope="session")
def tokenizer_dir(gguf_path: Path) -> Path:
    """The real Gemma 3 tokenizer, extracted once from the GGUF and cached (about 25 s
    from a fresh clone, under a second afterwards)."""
    return gemma.cached_gguf_tokenizer(gguf_path)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    return gemma.build_tiny_gemma3(tmp_path_factory.mktemp("llm") / "tiny-gemma3", tokenizer_dir)


@pytest.fixture
def tiny_engine(tiny_model_dir: Path) -> LocalEngine:
    return LocalEngine(tiny_model_dir, max_waiting=1, max_context_tokens=2048)


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- a real OpenAI-compatible server over the local engine ------------------------------

_STATUS_BY_REASON = {
    "invalid_request": 422,
    "too_long": 422,
    "busy": 429,
    "timeout": 504,
    "load_failed": 503,
    "down": 503,
    "interrupted": 500,
}


@dataclass
class ServerState:
    """What the test can steer and observe. ``faults`` are consumed one per request:
    an HTTP status to answer with instead of generating, or ``"cut"`` to drop the
    connection after a few pieces."""

    engine: LocalEngine
    faults: list[int | str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked streaming, as TGI and vLLM answer
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "tiny", "object": "model"}]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        state = self.server.state
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": f"no route {self.path}"})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with state.lock:
            state.requests.append(body)
            fault = state.faults.pop(0) if state.faults else None
        if isinstance(fault, int):
            self._json(fault, {"error": f"injected {fault}", "error_type": "injected"})
            return
        stop = body.get("stop") or []
        params = GenerationParams(
            max_new_tokens=body.get("max_tokens") or 256,
            temperature=body.get("temperature") or 0.0,
            stop=tuple([stop] if isinstance(stop, str) else stop),
            timeout_s=30,
        )
        messages = [ChatMessage(m["role"], m["content"]) for m in body["messages"]]
        try:
            pieces = state.engine.stream_chat(messages, params)
        except ModelUnavailable as error:
            message = str(error)
            if error.reason == "too_long":  # TGI's wording, which clients recognise
                message = (
                    "Input validation error: `inputs` tokens + `max_new_tokens` must be "
                    f"<= {state.engine.max_context_tokens}. {error}"
                )
            self._json(
                _STATUS_BY_REASON[error.reason], {"error": message, "error_type": "validation"}
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(delta: dict[str, str], finish: str | None) -> str:
            chunk = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "tiny",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

        try:
            for index, piece in enumerate(pieces):
                if fault == "cut" and index == 3:
                    # Drop the connection mid-stream, no terminating chunk: what a crashed
                    # server or a broken network looks like to the client.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._chunk(event({"role": "assistant", "content": piece}, None))
            self._chunk(event({}, "stop"))
            self._chunk("data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; closing frees the engine
        finally:
            pieces.close()  # type: ignore[attr-defined]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ServerState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@pytest.fixture
def openai_server(tiny_model_dir: Path) -> Iterator[tuple[str, ServerState]]:
    """A real HTTP server on 127.0.0.1 speaking OpenAI chat completions (streaming SSE),
    generating with the tiny model. Yields its base URL and its state."""
    state = ServerState(engine=LocalEngine(tiny_model_dir, max_waiting=2, max_context_tokens=512))
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- the registry on the tiny model -----------------------------------------------------------


@pytest.fixture(scope="session")
def session_models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    # One copy per session, so the engine's per-process model cache is reused across tests.
    directory = tmp_path_factory.mktemp("models")
    shutil.copytree(tiny_model_dir, directory / "tiny")
    return directory


@pytest.fixture
def models_dir(settings, session_models_dir: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.SORO_MODELS_DIR = session_models_dir
    settings.SORO_LLM_URL = None
    return session_models_dir


@pytest.fixture
def tiny_version(db, models_dir: Path) -> ModelVersion:  # type: ignore[no-untyped-def]
    return ModelVersion.objects.create(name="tiny", stage="base", path="tiny", is_active=True)


def store_evaluation(
    version: ModelVersion,
    *,
    tajik: float | None = None,
    english: float | None = None,
    checksum: str = "a" * 64,
    metric: str = "acc",
    generation: tuple[float, float] | None = (1.0, 0.0),
) -> None:
    """Results as a finished evaluation run leaves them (overall score only), and the
    generation suite's (Tajik share, echo share) on the lesson sections — passing the gate
    unless given otherwise."""
    from django.utils import timezone

    from modelops.models import EvaluationResult, ModelRun

    for benchmark, value in (("tajik_suite", tajik), ("english_retention", english)):
        if value is None:
            continue
        run = ModelRun.objects.create(
            kind="evaluate", status="succeeded", input_version=version, finished_at=timezone.now()
        )
        EvaluationResult.objects.create(
            run=run,
            version=version,
            benchmark=benchmark,
            benchmark_sha256=checksum,
            group="all",
            metric=metric,
            value=value,
            count=100,
        )
    if generation is not None and (tajik is not None or english is not None):
        run = ModelRun.objects.create(
            kind="evaluate", status="succeeded", input_version=version, finished_at=timezone.now()
        )
        for metric_name, value in zip(("tajik_share", "echo_share"), generation, strict=True):
            EvaluationResult.objects.create(
                run=run,
                version=version,
                benchmark="generation_suite",
                benchmark_sha256=checksum,
                group="task:lesson_section",
                metric=metric_name,
                value=value,
                count=25,
            )
