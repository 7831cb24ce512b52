"""Quantization core: llm-compressor FP8 and INT4 on a tiny real Gemma 3, exact
reproduction of the stored quantization error, held-out scoring, bad input.

The conftest's tiny model is 64 wide, narrower than INT4's groups of 128 columns, so the
model here is 128 wide with a 384-wide MLP (``down_proj`` then has three groups per row)
and random norm weights (Gemma initialises them to zero, which would hide a change).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from modelops import quantization
from modelops.llm import gemma
from modelops.quantization import (
    QuantizationError,
    QuantizationResult,
    accuracy_retention,
    load_fake_quantized,
    perplexity_and_agreement,
    quantize_checkpoint,
    split_calibration_held_out,
    tajik_texts_from_markdown,
    text_split,
)

HIDDEN, INTERMEDIATE, HEAD_DIM, LAYERS = 128, 384, 64, 2
#: The demo textbooks: the Tajik text the platform calibrates on by default.
DEMO_TEXTS = sorted((Path(__file__).resolve().parents[2] / "tutoring/data/textbooks").glob("*.md"))
LINEARS_PER_LAYER = 7  # q, k, v, o, gate, up, down


def _linear_shapes() -> list[tuple[int, int]]:
    """(out, in) of every quantized Linear in the test model."""
    per_layer = [
        (2 * HEAD_DIM, HIDDEN),  # q_proj, two heads
        (HEAD_DIM, HIDDEN),  # k_proj, one key-value head
        (HEAD_DIM, HIDDEN),  # v_proj
        (HIDDEN, 2 * HEAD_DIM),  # o_proj
        (INTERMEDIATE, HIDDEN),  # gate_proj
        (INTERMEDIATE, HIDDEN),  # up_proj
        (HIDDEN, INTERMEDIATE),  # down_proj
    ]
    return per_layer * LAYERS


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    gemma.install_chat_template(tokenizer)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=HEAD_DIM,
        query_pre_attn_scalar=HEAD_DIM,
        sliding_window=64,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        dtype="float32",
    )
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(config).to(torch.float32).eval()  # type: ignore[arg-type]
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.normal_(0.0, 0.3)
    directory = tmp_path_factory.mktemp("quantization") / "parent"
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def parent(model_dir: Path) -> PreTrainedModel:
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def texts() -> tuple[str, ...]:
    return text_split(DEMO_TEXTS, words_per_text=24).calibration[:6]


@pytest.fixture(scope="module")
def fp8(model_dir: Path) -> QuantizationResult:
    stages: list[tuple[str, float]] = []
    result = quantize_checkpoint(
        source=model_dir,
        output=model_dir.parent / "fp8",
        scheme="fp8",
        progress=lambda stage, fraction: stages.append((stage, fraction)),
    )
    assert stages[0] == ("loading", 0.0) and stages[-1] == ("done", 1.0)
    assert [fraction for _, fraction in stages] == sorted(fraction for _, fraction in stages)
    return result


@pytest.fixture(scope="module")
def int4_rtn(model_dir: Path) -> QuantizationResult:
    # float32 storage here, so every unquantized tensor must come back bit for bit
    return quantize_checkpoint(
        source=model_dir,
        output=model_dir.parent / "int4-rtn",
        scheme="int4",
        method="rtn",
        unquantized_dtype="float32",
    )


@pytest.fixture(scope="module")
def int4_gptq(model_dir: Path, texts: tuple[str, ...]) -> QuantizationResult:
    return quantize_checkpoint(
        source=model_dir,
        output=model_dir.parent / "int4-gptq",
        scheme="int4",
        calibration_texts=texts,
        max_calibration_samples=4,
        max_sequence_length=48,
    )


def _quantization_config(directory: Path) -> dict:
    config: dict = json.loads((directory / "config.json").read_text())["quantization_config"]
    return config


def _leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(".partial"))


def _linears(model: PreTrainedModel) -> dict[str, torch.nn.Linear]:
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not name.endswith("lm_head")
    }


# --- what is written -----------------------------------------------------------------------


def test_fp8_writes_a_float_quantized_checkpoint_with_per_channel_scales(
    fp8: QuantizationResult, model_dir: Path
) -> None:
    config = _quantization_config(fp8.output)
    group = config["config_groups"]["group_0"]
    assert (config["quant_method"], config["format"]) == ("compressed-tensors", "float-quantized")
    assert config["ignore"] == ["lm_head"] and group["targets"] == ["Linear"]
    weights, inputs = group["weights"], group["input_activations"]
    assert (weights["type"], weights["num_bits"], weights["strategy"]) == ("float", 8, "channel")
    assert (inputs["type"], inputs["strategy"], inputs["dynamic"]) == ("float", "token", True)
    stored = json.loads((fp8.output / "config.json").read_text())
    assert (stored["dtype"], stored["tie_word_embeddings"]) == ("bfloat16", True)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (fp8.output / name).read_bytes() == (model_dir / name).read_bytes()
    assert (fp8.output / "generation_config.json").is_file()
    assert _leftovers(model_dir.parent) == []


def test_fp8_result_counts_the_bytes_of_each_part(
    fp8: QuantizationResult, model_dir: Path, tokenizer: PreTrainedTokenizerBase
) -> None:
    shapes = _linear_shapes()
    embedding = len(tokenizer) * HIDDEN
    assert (fp8.scheme, fp8.method, fp8.llmcompressor_scheme) == ("fp8", "rtn", "FP8_DYNAMIC")
    assert (fp8.quantization_format, fp8.group_size) == ("float-quantized", None)
    assert (fp8.source, fp8.output) == (model_dir, model_dir.parent / "fp8")
    assert fp8.quantized_layers == LAYERS * LINEARS_PER_LAYER
    assert fp8.linear_bytes_before == sum(o * i * 4 for o, i in shapes)
    # one FP8 byte per weight plus one float32 scale per output channel
    assert fp8.linear_bytes_after == sum(o * i + o * 4 for o, i in shapes)
    assert (fp8.embedding_bytes_before, fp8.embedding_bytes_after) == (embedding * 4, embedding * 2)
    assert fp8.size_bytes == sum(p.stat().st_size for p in fp8.output.iterdir())
    assert fp8.parent_size_bytes == sum(p.stat().st_size for p in model_dir.iterdir())
    assert fp8.weights_bytes == (fp8.output / "model.safetensors").stat().st_size
    assert fp8.compression_ratio == fp8.parent_weights_bytes / fp8.weights_bytes
    assert 2.0 < fp8.compression_ratio < 2.1  # the bfloat16 embedding dominates
    assert 3.8 < fp8.linear_compression_ratio < 4.0
    assert (fp8.calibration_samples, fp8.calibration_tokens) == (0, 0)
    assert 0 < fp8.seconds < 120
    recorded = json.loads(json.dumps(fp8.as_dict()))  # what a registry row can store
    assert recorded["output"] == str(model_dir.parent / "fp8")
    assert recorded["linear_compression_ratio"] == fp8.linear_compression_ratio


def test_int4_rtn_writes_packed_4_bit_groups_of_128(
    int4_rtn: QuantizationResult, tokenizer: PreTrainedTokenizerBase
) -> None:
    config = _quantization_config(int4_rtn.output)
    weights = config["config_groups"]["group_0"]["weights"]
    assert config["format"] == "pack-quantized"
    assert (weights["type"], weights["num_bits"], weights["strategy"]) == ("int", 4, "group")
    assert (weights["group_size"], weights["symmetric"]) == (128, True)
    assert config["config_groups"]["group_0"]["input_activations"] is None
    assert (int4_rtn.method, int4_rtn.group_size, int4_rtn.unquantized_dtype) == (
        "rtn",
        128,
        "float32",
    )
    shapes = _linear_shapes()
    # half a byte per weight, a float32 scale per group, and a two-int64 weight_shape
    assert int4_rtn.linear_bytes_after == sum(
        o * i // 2 + o * (i // 128) * 4 + 16 for o, i in shapes
    )
    assert int4_rtn.embedding_bytes_after == int4_rtn.embedding_bytes_before
    assert 7.0 < int4_rtn.linear_compression_ratio < 8.0
    assert (int4_rtn.calibration_samples, int4_rtn.calibration_tokens) == (0, 0)


def test_int4_gptq_calibrates_on_the_texts_given(
    int4_gptq: QuantizationResult, tokenizer: PreTrainedTokenizerBase, texts: tuple[str, ...]
) -> None:
    lengths = [len(tokenizer(text, truncation=True, max_length=48)["input_ids"]) for text in texts]
    assert (int4_gptq.method, int4_gptq.calibration_samples) == ("gptq", 4)
    assert int4_gptq.calibration_tokens == sum(lengths[:4])
    assert _quantization_config(int4_gptq.output)["format"] == "pack-quantized"


# --- the stored error, reproduced ------------------------------------------------------------


def _fp8_reference(weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """FP8 E4M3 per output channel, written out here rather than taken from the library."""
    levels = torch.clamp(weight / scale, -448.0, 448.0).to(torch.float8_e4m3fn)
    return levels.to(torch.float32) * scale


def _int4_reference(weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric 4-bit integers, one scale per group of 128 input columns."""
    groups = weight.unflatten(-1, (-1, 128))
    steps = scale.unsqueeze(-1)
    return (torch.clamp(torch.round(groups / steps), -8, 7) * steps).flatten(-2)


@pytest.mark.parametrize(
    ("result_name", "reference"),
    [("fp8", _fp8_reference), ("int4_rtn", _int4_reference)],
)
def test_fake_quantized_weights_equal_the_parent_rounded_with_the_stored_scales(
    request: pytest.FixtureRequest,
    parent: PreTrainedModel,
    result_name: str,
    reference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> None:
    result: QuantizationResult = request.getfixturevalue(result_name)
    stored = load_file(result.output / "model.safetensors")
    candidate = load_fake_quantized(result.output)
    parent_parameters = dict(parent.named_parameters())
    linears = _linears(candidate)
    assert len(linears) == LAYERS * LINEARS_PER_LAYER
    for name, module in linears.items():
        expected = reference(parent_parameters[f"{name}.weight"], stored[f"{name}.weight_scale"])
        assert module.weight.dtype == torch.float32
        assert torch.equal(module.weight, expected), name
        assert not torch.equal(module.weight, parent_parameters[f"{name}.weight"]), name
    # Everything else is the parent's, rounded to the storage dtype and nothing more.
    storage = torch.bfloat16 if result.unquantized_dtype == "bfloat16" else torch.float32
    for name, parameter in candidate.named_parameters():
        if name.rsplit(".", 1)[0] not in linears:
            original = parent_parameters[name].detach()
            assert torch.equal(parameter, original.to(storage).to(torch.float32)), name


def test_gptq_weights_lie_on_the_int4_grid_and_differ_from_plain_rounding(
    int4_gptq: QuantizationResult, int4_rtn: QuantizationResult
) -> None:
    stored = load_file(int4_gptq.output / "model.safetensors")
    gptq = _linears(load_fake_quantized(int4_gptq.output))
    rtn = _linears(load_fake_quantized(int4_rtn.output))
    for name, module in gptq.items():
        groups = module.weight.unflatten(-1, (-1, 128))
        scale = stored[f"{name}.weight_scale"].unsqueeze(-1)
        levels = torch.round(groups / scale)
        assert torch.equal(levels * scale, groups), name
        assert levels.min() >= -8 and levels.max() <= 7, name
    assert any(not torch.equal(module.weight, rtn[name].weight) for name, module in gptq.items())


def test_plain_from_pretrained_serves_the_same_weights(fp8: QuantizationResult) -> None:
    """What the local engine does with a quantized version: transformers decompresses it."""
    ids = torch.tensor([[2, 1000, 2000, 3000, 4000, 5000]])
    plain = AutoModelForCausalLM.from_pretrained(fp8.output, dtype=torch.float32)
    with torch.inference_mode():
        assert torch.equal(plain(ids).logits, load_fake_quantized(fp8.output)(ids).logits)


@pytest.mark.parametrize(("result_name", "changes"), [("fp8", True), ("int4_rtn", False)])
def test_fp8_activations_are_rounded_per_token_as_the_server_does(
    request: pytest.FixtureRequest, result_name: str, changes: bool
) -> None:
    result: QuantizationResult = request.getfixturevalue(result_name)
    model = load_fake_quantized(result.output)
    down = model.model.layers[0].mlp.down_proj  # type: ignore[union-attr]
    inputs = torch.randn(1, 5, INTERMEDIATE)
    with torch.inference_mode():
        rounded = down(inputs)
        levels = inputs.abs().amax(-1, keepdim=True) / 448.0
        expected = torch.nn.functional.linear(
            (inputs / levels).to(torch.float8_e4m3fn).to(torch.float32) * levels, down.weight
        )
        assert torch.allclose(
            rounded, expected if changes else torch.nn.functional.linear(inputs, down.weight)
        )
        full = load_fake_quantized(result.output, quantize_activations=False)
        ids = torch.tensor([[2, 1000, 2000, 3000, 4000, 5000]])
        assert torch.equal(model(ids).logits, full(ids).logits) is not changes


# --- held-out scoring ------------------------------------------------------------------------


def test_a_model_agrees_fully_with_itself(
    parent: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: tuple[str, ...]
) -> None:
    result = perplexity_and_agreement(
        parent=parent, candidate=parent, tokenizer=tokenizer, texts=texts[:3], max_length=32
    )
    assert result.top1_agreement == 1.0
    assert result.parent_perplexity == result.candidate_perplexity
    assert result.mean_kl_divergence == 0.0
    assert result.texts == 3


def test_chunked_scoring_equals_cross_entropy_over_full_logits(
    parent: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: tuple[str, ...],
    fp8: QuantizationResult,
) -> None:
    candidate = load_fake_quantized(fp8.output)
    result = perplexity_and_agreement(
        parent=parent,
        candidate=candidate,
        tokenizer=tokenizer,
        texts=[*texts[:2], ""],  # the empty text is skipped
        max_length=40,
        chunk_positions=7,  # several chunks per text, the last one short
    )
    losses: dict[str, float] = {"parent": 0.0, "candidate": 0.0}
    agreed = count = 0
    with torch.inference_mode():
        for text in texts[:2]:
            ids = torch.tensor([tokenizer(text, truncation=True, max_length=40)["input_ids"]])
            logits = {
                "parent": parent(ids).logits[0, :-1],
                "candidate": candidate(ids).logits[0, :-1],
            }
            for key, value in logits.items():
                losses[key] += float(
                    torch.nn.functional.cross_entropy(value, ids[0, 1:], reduction="sum")
                )
            agreed += int((logits["parent"].argmax(-1) == logits["candidate"].argmax(-1)).sum())
            count += ids.shape[1] - 1
    assert (result.tokens, result.texts) == (count, 2)
    assert result.parent_perplexity == pytest.approx(math.exp(losses["parent"] / count), rel=1e-5)
    assert result.candidate_perplexity == pytest.approx(
        math.exp(losses["candidate"] / count), rel=1e-5
    )
    assert result.top1_agreement == agreed / count
    assert result.mean_kl_divergence > 0


def test_scoring_nothing_is_an_error(
    parent: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
) -> None:
    with pytest.raises(ValueError, match="two tokens"):
        perplexity_and_agreement(
            parent=parent, candidate=parent, tokenizer=tokenizer, texts=[""], max_length=40
        )


@pytest.mark.parametrize(
    ("parent_acc", "candidate_acc", "kept"),
    [(0.5, 0.4, 0.8), (0.4, 0.5, 1.25), (0.0, 0.0, 1.0), (0.0, 0.3, 1.0), (0.6, 0.0, 0.0)],
)
def test_accuracy_retention(parent_acc: float, candidate_acc: float, kept: float) -> None:
    assert accuracy_retention(parent_acc, candidate_acc) == pytest.approx(kept)


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf])
def test_accuracy_retention_refuses_nonsense(bad: float) -> None:
    with pytest.raises(ValueError):
        accuracy_retention(bad, 0.5)
    with pytest.raises(ValueError):
        accuracy_retention(0.5, bad)


# --- text ------------------------------------------------------------------------------------


def test_markdown_becomes_plain_word_chunks_per_file(tmp_path: Path) -> None:
    first = tmp_path / "a.md"
    first.write_text(
        "---\ntitle: Китоб\nlanguage: tg\n---\n<!-- page 1 -->\n# Боби 1\n"
        "## Ҷумла\n\nЯк ду се чор панҷ шаш ҳафт.\n- ҳашт нӯҳ\n",
        encoding="utf-8",
    )
    second = tmp_path / "b.md"
    second.write_text("Даҳ ёздаҳ дувоздаҳ\n", encoding="utf-8")
    texts = tajik_texts_from_markdown([first, second], words_per_text=4)
    assert texts == [
        "Боби 1 Ҷумла Як",
        "ду се чор панҷ",
        "шаш ҳафт. ҳашт нӯҳ",
        "Даҳ ёздаҳ дувоздаҳ",
    ]
    # a short last chunk (under half) is dropped
    assert tajik_texts_from_markdown([second], words_per_text=7) == []


def test_every_fifth_text_is_held_out() -> None:
    texts = [f"t{i}" for i in range(12)]
    split = split_calibration_held_out(texts)
    assert split.held_out == ("t4", "t9")
    assert split.calibration == tuple(t for t in texts if t not in ("t4", "t9"))


def test_demo_textbooks_split_into_disjoint_tajik_sets() -> None:
    split = text_split(DEMO_TEXTS)
    assert len(split.calibration) >= 64 and len(split.held_out) >= 16
    assert not set(split.calibration) & set(split.held_out)
    assert all("<!--" not in text and "---" not in text for text in split.held_out)
    assert any("ҳ" in text for text in split.held_out)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scheme": "int8"}, "Unknown quantization scheme 'int8'; choose one of: fp8, int4"),
        ({"scheme": "int4", "method": "awq"}, "Unknown quantization method 'awq'"),
        ({"scheme": "fp8", "method": "gptq"}, "FP8 takes no calibration"),
        ({"scheme": "int4"}, "pass Tajik texts .* or use --method rtn"),
        ({"scheme": "int4", "calibration_texts": ["  "]}, "or use --method rtn"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(
    model_dir: Path, arguments: dict, message: str
) -> None:
    output = model_dir.parent / "refused"
    with pytest.raises(QuantizationError, match=message):
        quantize_checkpoint(source=model_dir, output=output, **arguments)
    assert not output.exists() and _leftovers(model_dir.parent) == []


def test_an_already_quantized_source_is_refused(fp8: QuantizationResult) -> None:
    output = fp8.output.parent / "twice"
    with pytest.raises(QuantizationError, match=r"already quantized .*compressed-tensors"):
        quantize_checkpoint(source=fp8.output, output=output, scheme="int4", method="rtn")
    assert not output.exists()


def test_a_missing_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QuantizationError, match=r"config\.json is missing"):
        quantize_checkpoint(source=tmp_path / "nothing", output=tmp_path / "out", scheme="fp8")


def test_an_existing_output_is_left_alone(model_dir: Path, fp8: QuantizationResult) -> None:
    before = sorted((p.name, p.stat().st_mtime_ns) for p in fp8.output.iterdir())
    with pytest.raises(QuantizationError, match="already exists"):
        quantize_checkpoint(source=model_dir, output=fp8.output, scheme="fp8")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in fp8.output.iterdir()) == before


def test_int4_refuses_layers_narrower_than_a_group(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The conftest's tiny model is 64 wide: llm-compressor would fail deep inside."""
    with pytest.raises(QuantizationError, match=r"groups of 128 .*q_proj \(64 columns\)"):
        quantize_checkpoint(
            source=tiny_model_dir, output=tmp_path / "int4", scheme="int4", method="rtn"
        )
    assert list(tmp_path.iterdir()) == []


def test_a_failure_after_saving_leaves_nothing_behind(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A double: a disk that fills up while the tokenizer files are copied cannot be made
    # on demand here. By then llm-compressor has written the weights to the temporary
    # directory.
    def disk_full(source: Path, destination: Path) -> None:
        assert (destination / "model.safetensors").is_file()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(quantization, "_copy_serving_files", disk_full)
    with pytest.raises(OSError, match="No space left"):
        quantize_checkpoint(source=tiny_model_dir, output=tmp_path / "fp8", scheme="fp8")
    assert list(tmp_path.iterdir()) == []
