"""The registry, promotion and the generation path every feature uses, on the tiny model."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.template.loader import render_to_string
from django.utils import translation

from modelops.llm.types import ChatMessage, GenerationParams
from modelops.models import GenerationLog, ModelRun, ModelVersion
from modelops.services import (
    generation_stream,
    model_health,
    model_version_promote,
    serving_commands,
)
from tests.conftest import People, client_for
from tests.modelops.conftest import store_evaluation

QUESTION = [ChatMessage("user", "Пойтахти Тоҷикистон кадом шаҳр аст?")]


def test_promote_refuses_a_version_whose_files_are_missing(tiny_version, models_dir) -> None:  # type: ignore[no-untyped-def]
    gone = ModelVersion.objects.create(name="gone", stage="base", path="gone")
    with pytest.raises(ValidationError, match="no directory"), translation.override("en"):
        model_version_promote(version=gone)
    broken_dir = models_dir / "broken"
    broken_dir.mkdir(exist_ok=True)
    (broken_dir / "config.json").write_text("{not json")
    (broken_dir / "model.safetensors").write_bytes(b"")
    broken = ModelVersion.objects.create(name="broken", stage="base", path="broken")
    with pytest.raises(ValidationError, match="does not load"):
        model_version_promote(version=broken)
    assert list(ModelVersion.objects.active().values_list("name", flat=True)) == ["tiny"]
    with pytest.raises(CommandError, match="cannot be promoted"), translation.override("en"):
        call_command("promote_model", "gone")


def test_promote_moves_the_one_active_mark(tiny_version, models_dir) -> None:  # type: ignore[no-untyped-def]
    second = ModelVersion.objects.create(
        name="tiny2", stage="instruction_tuned", path=str(models_dir / "tiny")
    )
    for version in (tiny_version, second):
        store_evaluation(version, tajik=0.30, english=0.50)
    call_command("promote_model", "tiny2")
    assert list(ModelVersion.objects.active().values_list("name", flat=True)) == ["tiny2"]
    assert ModelRun.objects.filter(
        kind="promote", status="succeeded", output_version=second
    ).exists()


def test_generation_streams_and_is_recorded(tiny_version, people: People) -> None:  # type: ignore[no-untyped-def]
    events = list(
        generation_stream(
            messages=QUESTION,
            params=GenerationParams(max_new_tokens=8),
            purpose="test",
            user=people.teacher,
        )
    )
    texts = [e["text"] for e in events if e["type"] == "text"]
    done = events[-1]
    assert texts and done["type"] == "done" and done["pieces"] == len(texts)
    log = GenerationLog.objects.get()
    assert log.status == "completed" and log.user == people.teacher
    assert log.output_chars == len("".join(texts)) and log.backend == "local:tiny"
    # A random-weight model does not write Tajik: that is recorded and reported, not hidden.
    assert log.language and done["language"] == log.language
    assert done["is_expected_language"] is (log.language == "tg")


def test_stopping_a_generation_records_it_as_stopped(tiny_version) -> None:  # type: ignore[no-untyped-def]
    events = generation_stream(
        messages=QUESTION, params=GenerationParams(max_new_tokens=64), purpose="test"
    )
    first = next(events)
    assert first["type"] == "text"
    events.close()
    assert GenerationLog.objects.get().status == "stopped"
    # The engine's slot is free again: the next request runs.
    again = list(
        generation_stream(
            messages=QUESTION, params=GenerationParams(max_new_tokens=2), purpose="test"
        )
    )
    assert again[-1]["type"] == "done"


def test_no_model_gives_a_clear_error_event(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SORO_LLM_URL = None
    events = list(generation_stream(messages=QUESTION, params=GenerationParams(), purpose="test"))
    assert events == [{"type": "error", "reason": "load_failed", "message": events[0]["message"]}]
    assert "model" in events[0]["message"].lower() or "модел" in events[0]["message"].lower()
    assert GenerationLog.objects.get().reason == "load_failed"


def test_empty_prompt_is_refused(tiny_version) -> None:  # type: ignore[no-untyped-def]
    events = list(
        generation_stream(
            messages=[ChatMessage("user", "  ")], params=GenerationParams(), purpose="test"
        )
    )
    assert events[0]["reason"] == "invalid_request"


def test_playground_streams_ndjson(tiny_version, people: People) -> None:  # type: ignore[no-untyped-def]
    response = client_for(people.staff).post(
        "/staff/model/playground/stream/",
        {"message": "Салом!", "max_new_tokens": 6, "temperature": 0},
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    events = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert {e["type"] for e in events[:-1]} == {"text"} and events[-1]["type"] == "done"


def test_playground_streams_from_a_remote_server(
    db, people: People, settings, openai_server
) -> None:  # type: ignore[no-untyped-def]
    url, state = openai_server
    settings.SORO_LLM_URL = url
    response = client_for(people.staff).post(
        "/staff/model/playground/stream/",
        {"message": "Салом!", "max_new_tokens": 6, "temperature": 0},
    )
    events = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert events[-1]["type"] == "done" and events[-1]["pieces"] >= 1
    assert state.requests and state.requests[0]["stream"] is True
    assert GenerationLog.objects.get().backend.startswith("remote")
    assert model_health()["ok"] is True


def test_playground_without_javascript_and_its_errors(tiny_version, people: People) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.staff)
    client.cookies["django_language"] = "en"
    page = client.post(
        "/staff/model/playground/", {"message": "Салом!", "max_new_tokens": 4, "temperature": 0}
    )
    assert page.status_code == 200 and page.context["outcome"]["type"] == "done"
    empty = client.post(
        "/staff/model/playground/", {"message": "", "max_new_tokens": 4, "temperature": 0}
    )
    assert "Write a message first." in empty.content.decode()


def test_model_output_is_escaped_in_the_page(rf, people: People) -> None:  # type: ignore[no-untyped-def]
    from modelops.forms import PlaygroundForm

    request = rf.get("/")
    request.user = people.staff
    html = render_to_string(
        "modelops/playground.html",
        {
            "form": PlaygroundForm(),
            "reply": "<script>alert(1)</script>",
            "health": {"ok": True, "detail": "x"},
        },
        request=request,
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_serving_config_names_fp8_for_tgi_and_vllm(tiny_version, capsys) -> None:  # type: ignore[no-untyped-def]
    commands = serving_commands(version=tiny_version)
    assert "--quantize fp8" in commands["tgi"] and "--dtype bfloat16" in commands["tgi"]
    assert "--quantization fp8" in commands["vllm"]
    quantized = ModelVersion(name="q", stage="quantized", path="q", format="compressed_tensors")
    assert "--quantize" not in serving_commands(version=quantized)["tgi"]
    call_command("serving_config")
    assert "text-generation-inference" in capsys.readouterr().out
