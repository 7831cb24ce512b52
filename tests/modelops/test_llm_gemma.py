"""Gemma 3 chat template, the GGUF tokenizer, import and the tiny test model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from modelops.llm import gemma
from modelops.llm.local import LocalEngine
from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable


def test_template_renders_gemma_turns_with_system_folded_into_first_user_turn(
    tiny_model_dir: Path,
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rendered = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": "Ту муаллими математика ҳастӣ."},
            {"role": "user", "content": "2 + 2 чанд аст?"},
        ],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert rendered == (
        "<bos><start_of_turn>user\n"
        "Ту муаллими математика ҳастӣ.\n\n"
        "2 + 2 чанд аст?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_template_renders_a_multi_turn_conversation(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rendered = tokenizer.apply_chat_template(
        [
            {"role": "user", "content": "Салом!"},
            {"role": "assistant", "content": "Салом. "},
            {"role": "user", "content": [{"type": "text", "text": "Ташаккур."}]},
        ],
        tokenize=False,
        add_generation_prompt=False,
    )
    assert rendered == (
        "<bos><start_of_turn>user\nСалом!<end_of_turn>\n"
        "<start_of_turn>model\nСалом.<end_of_turn>\n"
        "<start_of_turn>user\nТашаккур.<end_of_turn>\n"
    )


def test_gguf_tokenizer_uses_gemma_merges(tokenizer_dir: Path) -> None:
    # Ids agree with llama.cpp's tokenization of the same GGUF; transformers' own GGUF
    # conversion would give one token per letter here.
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    assert tokenizer("The capital of France is", add_special_tokens=False).input_ids == [
        818,
        5279,
        529,
        7001,
        563,
    ]
    assert tokenizer("Пойтахти Тоҷикистон", add_special_tokens=False).input_ids == [
        11199,
        236934,
        38584,
        1620,
        17855,
        175078,
        212357,
    ]
    assert tokenizer("Салом").input_ids[0] == tokenizer.bos_token_id
    assert tokenizer.convert_tokens_to_ids(["<start_of_turn>", "<end_of_turn>"]) == [105, 106]
    text = "Ӯ ӣ ғ қ ҳ ҷ  😀\n\n"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False).input_ids) == text


def test_saved_model_stops_at_end_of_turn_and_ships_the_template(tiny_model_dir: Path) -> None:
    generation = json.loads((tiny_model_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [1, 106]
    config = json.loads((tiny_model_dir / "tokenizer_config.json").read_text())
    assert config["chat_template"] == gemma.GEMMA_CHAT_TEMPLATE
    assert (tiny_model_dir / "chat_template.jinja").read_text() == gemma.GEMMA_CHAT_TEMPLATE


def test_tiny_model_is_64_wide_unless_asked_for_more(
    tiny_model_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    """The benchmarks' INT4 smoke run needs layers of 128 columns or more."""
    narrow = json.loads((tiny_model_dir / "config.json").read_text())
    assert (narrow["hidden_size"], narrow["intermediate_size"], narrow["head_dim"]) == (64, 128, 32)
    wide_dir = gemma.build_tiny_gemma3(
        tmp_path / "wide", tokenizer_dir, hidden_size=128, intermediate_size=384, head_dim=64
    )
    wide = json.loads((wide_dir / "config.json").read_text())
    assert (wide["hidden_size"], wide["intermediate_size"], wide["head_dim"]) == (128, 384, 64)
    assert wide["query_pre_attn_scalar"] == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide"]  # nothing partial left


def test_locate_packaged_gguf_is_idempotent(gguf_path: Path) -> None:
    assert gemma.locate_packaged_gguf() == (gguf_path.parent, gguf_path.name)
    assert gguf_path.stat().st_size > 200_000_000


def test_import_refuses_an_existing_directory_and_a_missing_file(
    tmp_path: Path, gguf_path: Path
) -> None:
    existing = tmp_path / "model"
    existing.mkdir()
    with pytest.raises(FileExistsError):
        gemma.import_gguf(gguf_path.parent, gguf_path.name, existing)
    with pytest.raises(ModelUnavailable) as caught:
        gemma.import_gguf(tmp_path, "missing.gguf", tmp_path / "new")
    assert caught.value.reason == "load_failed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.slow
def test_import_real_270m_and_answer_in_tajik(tmp_path: Path, gguf_path: Path) -> None:
    stages: list[str] = []
    report = gemma.import_gguf(
        gguf_path.parent,
        gguf_path.name,
        tmp_path / "gemma3-270m",
        progress=lambda stage, fraction: stages.append(stage),
    )
    assert report.parameters == 268_098_176
    assert report.max_logit_difference == 0.0
    assert len(report.weights_sha256) == 64
    assert stages[-1] == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["gemma3-270m"]

    engine = LocalEngine(report.out_dir)
    pieces = list(
        engine.stream_chat(
            [ChatMessage("user", "Пойтахти Тоҷикистон кадом шаҳр аст?")],
            GenerationParams(max_new_tokens=24),
        )
    )
    assert len(pieces) > 1
    assert "".join(pieces).strip()
