"""CPU exports (llama.cpp GGUF) of the tiny real Gemma 3, the engine that serves them, and
the platform around them: quantize, promotion, health, the fallback without llama.cpp.

llama-cpp-python is an optional dependency (it compiles from source); CI installs it
(.ci/run), so these tests run there. Where it is missing they are skipped, except the
fallback tests, which need no llama.cpp.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from modelops import cpu_export
from modelops.checkpoints import file_sha256
from modelops.llm import gemma
from modelops.llm.local import LocalEngine
from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable, TextModelClient
from modelops.models import ModelRun, ModelVersion

QUESTION = [ChatMessage("user", "Пойтахти Тоҷикистон кадом шаҳр аст?")]
TAJIK = [
    "Забони тоҷикӣ забони давлатии Ҷумҳурии Тоҷикистон аст ва дар мактабҳо омӯхта мешавад.",
    "Қувва ба ҳосили зарби масса ва шитоб баробар аст; воҳиди он Нютон мебошад.",
    "Дар соли 1991 Тоҷикистон истиқлолият ба даст овард ва пойтахти он Душанбе аст.",
    "Мактаббачагон ҳар рӯз китоб мехонанд, масъалаҳо ҳал мекунанд ва ба саволҳо ҷавоб медиҳанд.",
]

needs_llama_cpp = pytest.mark.skipif(
    cpu_export.llama_cpp_problem() is not None,
    reason="llama-cpp-python is not installed here (CI installs it: .ci/run)",
)


def wait_until(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Path]:
    """The tiny model exported once per scheme with llama.cpp's converter and quantizer."""
    if cpu_export.llama_cpp_problem() is not None:
        pytest.skip("llama-cpp-python is not installed here (CI installs it: .ci/run)")
    converter = cpu_export.converter_dir(gemma.default_cache_dir())
    vocabulary_dir, vocabulary_file = gemma.locate_packaged_gguf()
    root = tmp_path_factory.mktemp("cpu")
    return {
        scheme: cpu_export.export_gguf(
            source=tiny_model_dir,
            output=root / scheme,
            scheme=scheme,
            vocabulary_gguf=vocabulary_dir / vocabulary_file,
            converter=converter,
        ).output
        for scheme in cpu_export.CPU_SCHEMES
    }


@pytest.fixture
def cpu_engine(exports: dict[str, Path]):  # type: ignore[no-untyped-def]
    from modelops.llm.llamacpp import GgufEngine

    return GgufEngine(exports["cpu-int8"], max_waiting=1, max_context_tokens=2048)


# --- the export ------------------------------------------------------------------------------


@needs_llama_cpp
def test_export_writes_a_gguf_with_the_platform_tokenizer_and_a_manifest(
    exports: dict[str, Path], tiny_model_dir: Path
) -> None:
    int8, int4 = exports["cpu-int8"], exports["cpu-int4"]
    for directory, quant_type in ((int8, "Q8_0"), (int4, "Q4_K_M")):
        manifest = json.loads((directory / cpu_export.MANIFEST).read_text())
        assert manifest["quant_type"] == quant_type
        assert manifest["gguf_sha256"] == file_sha256(directory / cpu_export.GGUF_FILE)
        assert (directory / "tokenizer.json").read_bytes() == (
            tiny_model_dir / "tokenizer.json"
        ).read_bytes()
        assert not list(directory.glob("*f32*"))  # the float intermediate is gone
    assert (int4 / "model.gguf").stat().st_size < (int8 / "model.gguf").stat().st_size


@needs_llama_cpp
def test_llama_cpp_reads_the_same_token_ids_as_the_platform_on_tajik(
    exports: dict[str, Path],
) -> None:
    texts = list(cpu_export.TAJIK_CHECK_STRINGS) + TAJIK
    for directory in exports.values():
        assert cpu_export.token_id_mismatches(directory, texts) == []


@needs_llama_cpp
def test_int8_keeps_the_parents_predictions(exports: dict[str, Path], tiny_model_dir: Path) -> None:
    """Tolerance, on held-out Tajik text: KL from the parent below 0.001 nats a token,
    perplexity within 1%, top-1 agreement 70% or more. The tiny random model's
    distributions are nearly flat (KL about 1e-4 nats, yet top-1 0.8 in a run of
    2026-12-02), so its top token flips on a rounding; the 95% goal is for the real model,
    whose figure quantize stores in the version's metrics."""
    retention = cpu_export.gguf_retention(
        parent_dir=tiny_model_dir, gguf_path=exports["cpu-int8"] / "model.gguf", texts=TAJIK
    )
    assert retention.tokens > 50
    assert retention.mean_kl_divergence < 1e-3
    assert abs(retention.perplexity_ratio - 1) < 0.01
    assert retention.top1_agreement >= 0.7
    int4 = cpu_export.gguf_retention(
        parent_dir=tiny_model_dir, gguf_path=exports["cpu-int4"] / "model.gguf", texts=TAJIK
    )
    assert int4.mean_kl_divergence > retention.mean_kl_divergence  # 4 bits lose more


@needs_llama_cpp
def test_int8_greedy_reply_starts_like_the_float32_parent(
    cpu_engine, tiny_engine: LocalEngine
) -> None:  # type: ignore[no-untyped-def]
    """Tolerance: the first 4 greedy tokens are the parent's (6 were in a run of
    2026-12-02; the tiny random model's top two logits are close, so a longer reply drifts
    after a rounding flips one)."""
    params = GenerationParams(max_new_tokens=4)
    ours = "".join(cpu_engine.stream_chat(QUESTION, params))
    parent = "".join(tiny_engine.stream_chat(QUESTION, params))
    assert ours and ours == parent


# --- evaluation on the served weights ---------------------------------------------------------


@needs_llama_cpp
def test_gguf_model_scores_continuations_like_the_float32_parent(
    exports: dict[str, Path], tiny_model_dir: Path
) -> None:
    """The evaluation core's log-likelihoods, read from llama.cpp's logits for the int8
    export, match the float32 parent's within 0.05 nats a token (int8 rounding: 0.014 in a
    run of 2026-12-02), and agree on which continuation of a question is likelier."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modelops.evaluation.scoring import loglikelihoods
    from modelops.llm.llamacpp import GgufCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    parent = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    requests = [
        ("Пойтахти Тоҷикистон кадом шаҳр аст? Ҷавоб:", " Душанбе"),
        ("Пойтахти Тоҷикистон кадом шаҳр аст? Ҷавоб:", " Хуҷанд"),
        (TAJIK[0], " " + TAJIK[1]),
    ]
    model = GgufCausalLM(exports["cpu-int8"])
    try:
        ours = loglikelihoods(model, tokenizer, requests)
    finally:
        model.close()
    theirs = loglikelihoods(parent, tokenizer, requests)
    assert [r.token_count for r in ours] == [r.token_count for r in theirs]
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.total < 0
        assert abs(mine.total - reference.total) < 0.05 * mine.token_count
    assert (ours[0].total > ours[1].total) == (theirs[0].total > theirs[1].total)


@needs_llama_cpp
def test_gguf_model_generates_greedily_like_model_generate(
    exports: dict[str, Path], tiny_model_dir: Path
) -> None:
    """Left-padded rows come back as ``model.generate`` returns them: the prompt, then the
    new tokens, then padding. The new tokens are llama.cpp's own greedy choice on the same
    file (``Llama.generate`` at temperature 0), and the first is the float32 parent's (the
    tiny random model's top logits are close, so int8 rounding may flip a later one)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modelops.llm.llamacpp import GgufCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    parent = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    rows = [tokenizer(text)["input_ids"] for text in (TAJIK[0], "Салом")]
    width = max(len(ids) for ids in rows)
    input_ids = torch.zeros((2, width), dtype=torch.long)
    attention_mask = torch.zeros((2, width), dtype=torch.long)
    for row, ids in enumerate(rows):
        input_ids[row, width - len(ids) :] = torch.tensor(ids)
        attention_mask[row, width - len(ids) :] = 1
    model = GgufCausalLM(exports["cpu-int8"])
    try:
        ours = model.generate(
            input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=6, pad_token_id=0
        )
    finally:
        model.close()
    assert ours.shape == (2, width + 6)
    assert torch.equal(ours[:, :width], input_ids)
    library = cpu_export.open_gguf(exports["cpu-int8"] / "model.gguf", n_ctx=256)
    for row, ids in enumerate(rows):
        greedy = []
        for token in library.generate(ids, temp=0.0, top_k=1, reset=True):
            greedy.append(token)
            if len(greedy) == 6:
                break
        assert ours[row, width:].tolist() == greedy
        first = parent.generate(
            input_ids=torch.tensor([ids]), max_new_tokens=1, do_sample=False, pad_token_id=0
        )[0, len(ids) :]
        assert ours[row, width] == first[0]
    library.close()


@needs_llama_cpp
@pytest.mark.django_db
def test_evaluate_scores_a_cpu_version_with_llama_cpp(tiny_version, capsys) -> None:  # type: ignore[no-untyped-def]
    """``evaluate`` judges the export itself: multiple-choice log-likelihoods and the
    generation suite come from llama.cpp, and the gate can read them."""
    from modelops.services.evaluation import evaluation_latest

    call_command("quantize", "--model", "tiny", "--scheme", "cpu-int8", "--name", "tiny-cpu8")
    version = ModelVersion.objects.get(name="tiny-cpu8")
    with translation.override("en"):
        call_command("evaluate", "--model", "tiny-cpu8", "--benchmark", "tajik_suite")
        call_command("evaluate", "--model", "tiny", "--benchmark", "tajik_suite")
        call_command(
            "evaluate", "--model", "tiny-cpu8", "--benchmark", "generation_suite", "--limit", "2"
        )
    stored = evaluation_latest(version=version, benchmark="tajik_suite")
    parent = evaluation_latest(version=tiny_version, benchmark="tajik_suite")
    accuracy = stored[("all", "acc")]
    assert accuracy.count == parent[("all", "acc")].count > 100
    # int8 rounding may flip an item whose choices the random model scores alike
    assert abs(accuracy.value - parent[("all", "acc")].value) <= 0.05
    replies = evaluation_latest(version=version, benchmark="generation_suite")
    assert replies[("all", "tajik_share")].count == 2
    assert ModelRun.objects.filter(kind="evaluate", status="succeeded").count() == 3
    shutil.rmtree(version.directory)


# --- the engine's guarantees -------------------------------------------------------------------


@needs_llama_cpp
def test_cpu_engine_is_a_client_that_streams_and_stops(cpu_engine) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(cpu_engine, TextModelClient)
    assert cpu_engine.health()["ok"] is True
    stream = cpu_engine.stream_chat(QUESTION, GenerationParams(max_new_tokens=40))
    pieces = list(stream)
    assert len(pieces) > 10
    assert stream.stats.generated_tokens == 40  # type: ignore[attr-defined]
    full = "".join(pieces)
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    assert stop.strip()
    reply = "".join(
        cpu_engine.stream_chat(QUESTION, GenerationParams(max_new_tokens=40, stop=(stop,)))
    )
    assert reply == full[: full.index(stop)]


@needs_llama_cpp
def test_cpu_engine_deadline_stops_generation(cpu_engine) -> None:  # type: ignore[no-untyped-def]
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        for piece in cpu_engine.stream_chat(
            QUESTION, GenerationParams(max_new_tokens=1900, timeout_s=0.3)
        ):
            received.append(piece)
    assert caught.value.reason == "timeout"
    assert received
    assert time.monotonic() - started < 5
    assert cpu_engine.health()["detail"].endswith("0 running, 0 waiting (max 1)")


@needs_llama_cpp
def test_cpu_engine_queue_is_bounded_and_closing_frees_the_turn(cpu_engine) -> None:  # type: ignore[no-untyped-def]
    running = cpu_engine.stream_chat(QUESTION, GenerationParams(max_new_tokens=1900, timeout_s=60))
    next(running)
    result: list[str] = []

    def wait_in_line() -> None:
        result.append("".join(cpu_engine.stream_chat(QUESTION, GenerationParams(max_new_tokens=3))))

    waiter = threading.Thread(target=wait_in_line)
    waiter.start()
    wait_until(lambda: "1 waiting" in cpu_engine.health()["detail"])
    with pytest.raises(ModelUnavailable) as caught:
        cpu_engine.stream_chat(QUESTION, GenerationParams(max_new_tokens=3))
    assert caught.value.reason == "busy"
    running.close()
    waiter.join(timeout=30)
    assert result and result[0]
    assert "0 running, 0 waiting" in cpu_engine.health()["detail"]


@needs_llama_cpp
def test_cpu_engine_trims_context_then_refuses(exports: dict[str, Path]) -> None:
    from modelops.llm.llamacpp import GgufEngine

    engine = GgufEngine(exports["cpu-int8"], max_waiting=1, max_context_tokens=120)
    passages = ["Душанбе пойтахти Тоҷикистон аст. " * 6, "Хуҷанд шаҳри қадима аст. " * 6]
    plan = engine.plan(QUESTION, GenerationParams(max_new_tokens=40), context=passages)
    assert len(plan.passages_kept) < len(passages)
    assert "".join(
        engine.stream_chat(QUESTION, GenerationParams(max_new_tokens=20), context=passages)
    )
    with pytest.raises(ModelUnavailable) as caught:
        engine.stream_chat(
            [ChatMessage("user", "Салом " * 200)], GenerationParams(max_new_tokens=40)
        )
    assert caught.value.reason == "too_long"


# --- the platform: quantize, promotion, health, generation ----------------------------------


@needs_llama_cpp
@pytest.mark.django_db
def test_quantize_cpu_int4_registers_a_child_that_serves_after_promotion(
    tiny_version, capsys, admin_client
) -> None:  # type: ignore[no-untyped-def]
    from modelops.llm.llamacpp import GgufEngine
    from modelops.services import (
        active_model_client,
        generation_stream,
        model_health,
        model_version_promote,
    )

    call_command("quantize", "--model", "tiny", "--scheme", "cpu-int4", "--name", "tiny-cpu4")
    out = capsys.readouterr().out
    assert "Registered tiny-cpu4 (gguf-q4_k_m, llama.cpp Q4_K_M)" in out
    assert "token ids identical" in out
    version = ModelVersion.objects.get(name="tiny-cpu4")
    assert (version.parent, version.format, version.stage) == (tiny_version, "gguf", "quantized")
    assert version.checksum == file_sha256(version.directory / "model.gguf")
    assert version.size_bytes and version.size_bytes < version.metrics["parent_size_bytes"]
    assert 0.0 <= version.metrics["heldout_top1_agreement"] <= 1.0
    assert version.metrics["heldout_tokens"] > 100
    run = ModelRun.objects.get(kind="quantize")
    assert (run.status, run.output_version) == ("succeeded", version)

    with translation.override("en"):
        model_version_promote(version=version, force=True, reason="CPU export of the active")
    version.refresh_from_db()
    assert version.is_active
    with translation.override("en"):
        health = model_health()
    assert health["ok"] and "llama.cpp CPU engine, version tiny-cpu4" in health["detail"]
    client = active_model_client()
    assert isinstance(client, GgufEngine)
    events = list(
        generation_stream(
            messages=QUESTION, params=GenerationParams(max_new_tokens=8), purpose="test"
        )
    )
    assert events[-1]["type"] == "done" and any(e["type"] == "text" for e in events)

    # healthz reports it too (to staff; the worker part may be down here)
    model = admin_client.get("/healthz").json()["model"]
    assert model["ok"] and "tiny-cpu4" in model["detail"]

    shutil.rmtree(version.directory)


@pytest.mark.django_db
def test_without_llama_cpp_a_cpu_version_falls_back_to_its_float32_parent(
    tiny_version, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    """A machine without a C compiler cannot build llama-cpp-python. A test cannot
    uninstall a package, so the failed import is simulated: ``sys.modules["llama_cpp"]
    = None`` makes ``import llama_cpp`` raise ImportError, exactly as when it is missing."""
    from modelops.services import active_model_client, model_health

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    directory = Path(tiny_version.directory).parent / "tiny-cpu-fallback"
    directory.mkdir(exist_ok=True)
    shutil.copy2(tiny_version.directory / "config.json", directory / "config.json")
    (directory / "model.gguf").write_bytes(b"GGUF")  # never opened: llama.cpp is missing
    tiny_version.is_active = False
    tiny_version.save()
    export = ModelVersion.objects.create(
        name="tiny-cpu-fallback",
        stage="quantized",
        parent=tiny_version,
        path="tiny-cpu-fallback",
        format="gguf",
        quantization="gguf-q4_k_m",
        is_active=True,
    )
    client = active_model_client()
    assert type(client) is LocalEngine
    assert client.model_dir == tiny_version.directory.resolve()
    assert "".join(client.stream_chat(QUESTION, GenerationParams(max_new_tokens=3)))
    with translation.override("en"):
        health = model_health()
    assert health["ok"] and "float32 tiny in place of the CPU version" in health["detail"]
    assert "llama-cpp-python is not installed" in health["detail"]

    # Without a float parent there is nothing to fall back to: a clear load_failed.
    export.parent = None
    export.save()
    with pytest.raises(ModelUnavailable) as caught:
        active_model_client()
    assert caught.value.reason == "load_failed"
    assert "pip install -e '.[cpu]'" in caught.value.message
    assert model_health()["ok"] is False
    shutil.rmtree(directory)


@pytest.mark.django_db
def test_without_llama_cpp_export_is_refused_and_setup_keeps_float32(
    tiny_version, monkeypatch, settings
) -> None:  # type: ignore[no-untyped-def]
    """As above: the missing library is simulated by a failing import."""
    from modelops.services.registry import model_base_cpu_export

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with translation.override("en"), pytest.raises(CommandError, match="needs llama-cpp-python"):
        call_command("quantize", "--model", "tiny", "--scheme", "cpu-int4")
    assert not ModelRun.objects.filter(kind="quantize").exists()
    export, note = model_base_cpu_export(base="tiny")
    assert export is None
    assert "float32 tiny stays active" in note and "pip install" in note
    tiny_version.refresh_from_db()
    assert tiny_version.is_active
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_cpu_scheme_takes_no_method(tiny_version) -> None:  # type: ignore[no-untyped-def]
    with translation.override("en"), pytest.raises(CommandError, match="takes no --method"):
        call_command("quantize", "--model", "tiny", "--scheme", "cpu-int8", "--method", "rtn")
