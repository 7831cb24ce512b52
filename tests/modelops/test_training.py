"""The training core on the tiny Gemma 3 (real tokenizer, random weights): exact resume,
refused resume, assistant-only labels, data validation, LoRA merge, replay share."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from modelops.training import (
    PretrainConfig,
    ResumeMismatch,
    Schedule,
    SftConfig,
    SftDataError,
    TrainingStopped,
    add_lora,
    load_conversations,
    merge_lora,
    pretrain,
    tokenize_conversation,
)
from modelops.training.data import (
    PackState,
    pack_examples,
    packed_sequences,
    tokenize_conversations,
)
from modelops.training.launch import launch_command
from modelops.training.pretrain import load_causal_lm, load_tokenizer

TAJIK = (
    "Мактаби мо дар маркази деҳа ҷойгир аст. Хонандагон ҳар саҳар ба дарс меоянд ва "
    "муаллимон онҳоро бо табассум пешвоз мегиранд. Дар синф китобҳои нав ҳастанд."
)


def write_corpus(directory: Path, documents: int = 24) -> Path:
    """A corpus folder in build_corpus's layout: two train shards and a validation one."""
    data = directory / "data"
    data.mkdir(parents=True)
    texts = [f"{number}. " + TAJIK * (1 + number % 3) for number in range(documents)]
    cut = documents // 2
    for name, part in (
        ("train-00000-of-00002", texts[:cut]),
        ("train-00001-of-00002", texts[cut:-4]),
        ("validation-00000-of-00001", texts[-4:]),
    ):
        ids = [f"doc-{name}-{i}" for i in range(len(part))]
        pq.write_table(pa.table({"id": ids, "text": part}), data / f"{name}.parquet")
    return directory


def small_schedule(**changes: object) -> Schedule:
    values: dict[str, object] = {
        "lr": 1e-3,
        "steps": 4,
        "seq_len": 64,
        "micro_batch_size": 2,
        "gradient_accumulation": 2,
        "checkpoint_every": 100,
        "warmup_ratio": 0.25,
    }
    values.update(changes)
    return Schedule(**values)  # type: ignore[arg-type]


def weights(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(directory / "model.safetensors")


def test_resume_after_a_stop_reaches_the_uninterrupted_weights(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus")

    def config(name: str, replay: float = 0.1, output: str = "") -> PretrainConfig:
        return PretrainConfig(
            model_dir=tiny_model_dir,
            corpus_dir=corpus,
            output_dir=tmp_path / f"out-{output or name}",
            run_dir=tmp_path / f"run-{name}",
            schedule=small_schedule(steps=3, gradient_accumulation=1),
            replay_share=replay,
        )

    whole = pretrain(config("whole"))
    with pytest.raises(TrainingStopped) as stopped:  # asked to stop after step 1
        pretrain(config("split"), should_stop=lambda: True)
    assert stopped.value.step == 1
    assert not (tmp_path / "out-split").exists()
    assert (tmp_path / "run-split" / "checkpoint-0000001" / "trainer_state.json").is_file()

    resumed = pretrain(config("split"))
    assert resumed.resumed_from_step == 1
    assert resumed.losses == whole.losses
    assert resumed.tokens_seen == whole.tokens_seen == 3 * 2 * 64
    first, second = weights(tmp_path / "out-whole"), weights(tmp_path / "out-split")
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    # The tokenizer and chat template travel with the weights.
    assert (tmp_path / "out-split" / "tokenizer.json").is_file()
    assert load_tokenizer(tmp_path / "out-split").chat_template

    with pytest.raises(ResumeMismatch) as refused:
        pretrain(config("split", replay=0.2, output="other"))
    assert "replay_share was 0.1, now 0.2" in str(refused.value)


def test_packing_is_deterministic_and_keeps_the_replay_share(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    tokenizer = load_tokenizer(tiny_model_dir)
    shards = sorted((corpus / "data").glob("train-*.parquet"))

    def encode(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(state: PackState | None = None):  # type: ignore[no-untyped-def]
        return packed_sequences(
            shards=shards,
            encode=encode,
            seq_len=32,
            bos_id=tokenizer.bos_token_id,
            eos_id=tokenizer.eos_token_id,
            seed=0,
            state=state,
            replay=["An English sentence for replay, short and plain."],
            replay_share=0.2,
        )

    first = [next(iter_) for iter_ in [stream()] for _ in range(1)]
    iterator = stream()
    taken = [next(iterator) for _ in range(40)]
    assert all(len(sequence) == 32 for sequence, _ in taken)
    state = taken[19][1]
    again = stream(PackState.from_json(json.loads(json.dumps(state.to_json()))))
    assert [next(again)[0] for _ in range(20)] == [sequence for sequence, _ in taken[20:]]
    assert first[0][0] == taken[0][0]
    final = taken[-1][1]
    share = final.replay_tokens / (final.replay_tokens + final.tajik_tokens)
    assert 0.15 < share < 0.25


def test_assistant_tokens_alone_carry_labels(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    messages = [
        {"role": "system", "content": "Шумо муаллим ҳастед."},
        {"role": "user", "content": "Салом!"},
        {"role": "assistant", "content": "Ассалому алейкум."},
        {"role": "user", "content": "2 + 2 чанд аст?"},
        {"role": "assistant", "content": "Чор."},
    ]
    ids, labels = tokenize_conversation(tokenizer, messages)
    assert len(ids) == len(labels)
    end = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    # Checked by hand: the labelled spans are exactly each reply and its <end_of_turn>,
    # and each starts right after "<start_of_turn>model\n".
    spans: list[list[int]] = []
    for position, label in enumerate(labels):
        if label == -100:
            continue
        assert label == ids[position]
        if position == 0 or labels[position - 1] == -100:
            spans.append([])
            assert tokenizer.decode(ids[position - 3 : position]) == "<start_of_turn>model\n"
        spans[-1].append(label)
    first_reply = tokenizer("Ассалому алейкум.", add_special_tokens=False)["input_ids"]
    second_reply = tokenizer("Чор.", add_special_tokens=False)["input_ids"]
    assert spans == [[*first_reply, end], [*second_reply, end]]
    assert tokenizer.decode(spans[1]) == "Чор.<end_of_turn>"
    # Nothing of the system prompt, the user turns or the final newline is learnt.
    unlabelled = tokenizer.decode(
        [i for i, label in zip(ids, labels, strict=True) if label == -100]
    )
    assert "Шумо муаллим ҳастед." in unlabelled and "Салом!" in unlabelled


def test_bad_instruction_data_is_named_by_line(tmp_path: Path, tiny_model_dir: Path) -> None:
    good = {
        "messages": [
            {"role": "user", "content": "Салом"},
            {"role": "assistant", "content": "Салом, чӣ хизмат?"},
        ]
    }
    lines = [
        json.dumps({"messages": [{"role": "teacher", "content": "x"}]}),
        json.dumps({"messages": [{"role": "user", "content": " "}, good["messages"][1]]}),
        json.dumps({"messages": [good["messages"][0]]}),
        json.dumps(good),
        "{not json",
        json.dumps({"task": "lesson_section", "id": "x-1", "inputs": {}, "reply": ""}),
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SftDataError) as error:
        load_conversations([path])
    assert error.value.problems == [
        "data.jsonl:1: turn 1 has the unknown role 'teacher' (use system, user, assistant)",
        "data.jsonl:2: turn 1 (user) is empty",
        "data.jsonl:3: the conversation does not end with the assistant",
        "data.jsonl:5: not JSON (Expecting property name enclosed in double quotes)",
        "data.jsonl:6: the reply is empty",
    ]
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    conversations = load_conversations([path])
    tokenizer = load_tokenizer(tiny_model_dir)
    with pytest.raises(SftDataError) as too_long:
        tokenize_conversations(tokenizer, conversations, max_length=8)
    assert too_long.value.problems[0].startswith("data.jsonl:1: ")
    assert "over the context length of 8" in too_long.value.problems[0]


def test_soro_records_render_through_the_prompt_builders(tiny_model_dir: Path) -> None:
    from modelops.instruction_data import DEMO_DIR, conversation, load_examples

    conversations = load_conversations([DEMO_DIR / "lesson_section.jsonl"])
    examples = load_examples([DEMO_DIR / "lesson_section.jsonl"])
    assert [c.id for c in conversations] == [e.id for e in examples]
    assert list(conversations[0].messages) == conversation(examples[0])


def test_packing_keeps_whole_examples(tiny_model_dir: Path) -> None:
    from modelops.training.data import TokenizedExample

    examples = [
        TokenizedExample(str(n), "", list(range(size)), [-100] * (size - 1) + [1])
        for n, size in enumerate([5, 3, 4, 2, 6])
    ]
    packed = pack_examples(examples, seq_len=8, pad_id=0)
    assert all(len(ids) == 8 and len(labels) == 8 for ids, labels in packed)
    assert sum(sum(1 for label in labels if label != -100) for _, labels in packed) == 5
    assert len(packed) == 3


def test_lora_merged_logits_equal_unmerged(tiny_model_dir: Path) -> None:
    config = SftConfig(
        model_dir=tiny_model_dir, data_paths=(), output_dir=Path("-"), run_dir=Path("-")
    )
    model = add_lora(load_causal_lm(tiny_model_dir), config).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:  # zero at the start: give the adapters an effect
                parameter.normal_(0, 0.5)
    ids = torch.tensor([[2, 1000, 2000, 3000, 4000, 5000]])
    with torch.no_grad():
        base = model.get_base_model()
        with model.disable_adapter():
            plain = base(input_ids=ids).logits
        adapted = model(input_ids=ids).logits
        merged = merge_lora(model)(input_ids=ids).logits
    assert not torch.allclose(plain, adapted, atol=1e-3)
    torch.testing.assert_close(merged, adapted, atol=1e-4, rtol=1e-4)


def test_sft_trains_lora_and_saves_merged_weights(tmp_path: Path, tiny_model_dir: Path) -> None:
    from modelops.training import sft

    path = tmp_path / "data.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"c{n}",
                    "messages": [
                        {"role": "user", "content": f"Савол {n}: пойтахт кадом аст?"},
                        {"role": "assistant", "content": "Душанбе."},
                    ],
                }
            )
            + "\n"
            for n in range(12)
        ),
        encoding="utf-8",
    )
    result = sft(
        SftConfig(
            model_dir=tiny_model_dir,
            data_paths=(path,),
            output_dir=tmp_path / "out",
            run_dir=tmp_path / "run",
            schedule=small_schedule(steps=2, seq_len=128, lr=1e-2),
            eval_split=0.3,
        )
    )
    assert result.train_examples + result.eval_examples == 12
    assert result.eval_examples > 0 and result.eval_loss is not None
    assert 0 < result.trainable_parameters < result.parameters
    saved = weights(tmp_path / "out")
    assert not any("lora" in key for key in saved)
    original = weights(tiny_model_dir)
    assert any(not torch.equal(saved[key], original[key]) for key in original if key in saved)


def test_launch_command_for_two_nodes() -> None:
    line = launch_command(
        "pretrain", {"model-dir": "/m", "steps": 10, "replay": None}, gpus=8, nodes=2
    )
    assert line == (
        "accelerate launch --config_file configs/accelerate/fsdp.yaml --num_machines 2 "
        "--num_processes 16 --machine_rank $NODE_RANK --main_process_ip $MAIN_HOST "
        "--main_process_port 29500 -m modelops.training pretrain --model-dir /m --steps 10"
    )


def test_lora_sft_launches_data_parallel() -> None:
    line = launch_command("sft", {"model-dir": "/m", "data": "/d"}, gpus=4, nodes=1)
    assert line.startswith("accelerate launch --multi_gpu --mixed_precision bf16 ")
    assert "--num_processes 4 -m modelops.training sft --model-dir /m --data /d" in line
    full = launch_command("sft", {"model-dir": "/m", "full": True}, gpus=4, nodes=1)
    assert "--config_file configs/accelerate/fsdp.yaml" in full and full.endswith("--full")
