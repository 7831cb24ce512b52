"""The generation suite's metrics on hand-made replies, and instruction data rendered from
the prompt builders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelops import prompts
from modelops.evaluation.generation import (
    GenerationItem,
    GenerationSuiteError,
    chrf,
    citations_valid,
    echoes,
    is_generation_suite,
    load_generation_suite,
    longest_common_run,
    score_reply,
    summaries,
)
from modelops.instruction_data import (
    DEMO_DIR,
    GENERATION_SUITE,
    PLATFORM_PROMPTS,
    Example,
    InstructionDataError,
    conversation,
    is_held_out,
    load_examples,
    split_examples,
    write_suite,
)
from modelops.llm.types import ChatMessage

PASSAGE = (
    "Муодилаи хаттӣ бо як тағйирёбанда муодилаест, ки намуди ax = b дорад. Барои ҳал кардани "
    "он ҳар ду тарафро ба a тақсим мекунанд."
)


def lesson_item(reference: str = "") -> GenerationItem:
    prompt = prompts.lesson_section(
        kind="objectives",
        section_title="Мақсадҳои дарс",
        topic="Муодилаҳои хаттӣ",
        subject="Математика",
        grade=7,
        passages=[PASSAGE],
    )
    return GenerationItem(
        id="x-1",
        task="lesson_section",
        messages=prompt.messages,
        context=prompt.context,
        reference=reference,
    )


def always(language: str):  # type: ignore[no-untyped-def]
    return lambda text: (language, 0.9)


def test_a_reply_that_repeats_the_system_prompt_is_an_echo() -> None:
    item = lesson_item()
    copied = "Шумо ба муаллим нақшаи дарс менависед. Аз матнҳои китоб истифода баред ва ..."
    assert echoes(copied, item)
    assert echoes(f"Матн: {PASSAGE[:70]}", item)  # a passage pasted back
    own = "- Хонанда муодилаи ax = b-ро ҳал карда метавонад [1].\n- Ҷавобро месанҷад."
    assert not echoes(own, item)
    assert longest_common_run("абвгд", "xxбвгx") == 3


def test_a_short_system_prompt_is_an_echo_when_most_of_it_is_repeated() -> None:
    item = GenerationItem(
        id="u",
        task="lesson_section",
        messages=(
            ChatMessage("system", prompts.LESSON_SYSTEM_UNGROUNDED),
            ChatMessage("user", "Мавзӯ: …"),
        ),
    )
    assert echoes("Шумо ба муаллим нақшаи дарс менависед", item)
    assert not echoes("Нақшаи дарс: се мақсад.", item)


def test_citations_must_exist_and_be_there() -> None:
    assert citations_valid("Ҳал [1] ва [2].", 2)
    assert not citations_valid("Ҳал [3].", 2)  # no such passage
    assert not citations_valid("Ҳал бе иқтибос.", 2)  # grounded item, nothing cited
    assert not citations_valid("[1] ва [0]", 2)


def test_chrf_is_100_for_the_reference_and_falls_with_distance() -> None:
    reference = "Муодилаи хаттӣ намуди ax = b дорад."
    assert chrf(reference, reference) == pytest.approx(100.0)
    near = chrf("Муодилаи хаттӣ намуди ax=b дорад.", reference)  # spacing is ignored
    assert near == pytest.approx(100.0)
    assert 0 < chrf("Муодила намуди дигар дорад.", reference) < near
    assert chrf("qwerty", reference) == 0.0


def test_summary_over_hand_made_replies() -> None:
    item = lesson_item(reference="- Хонанда муодилаи хаттиро ҳал мекунад [1].")
    replies = [
        "- Хонанда муодилаи хаттиро ҳал мекунад [1].",  # Tajik, cites, matches the reference
        "Шумо ба муаллим нақшаи дарс менависед. Аз матнҳои китоб истифода баред ва баъди",
        "Ученик решает уравнения [7].",  # not Tajik, a passage that does not exist
    ]
    languages = iter(["tg", "tg", "ru"])
    scores = [score_reply(item, reply, lambda _text: (next(languages), 0.9)) for reply in replies]
    overall, by_task = summaries(scores)
    assert (overall.group, by_task.group) == ("all", "task:lesson_section")
    assert overall.count == 3
    assert overall.tajik_share == pytest.approx(2 / 3)
    assert overall.echo_share == pytest.approx(1 / 3)
    assert overall.citation_share == pytest.approx(1 / 3)
    assert scores[0].chrf == pytest.approx(100.0)
    assert overall.mean_words == pytest.approx(sum(len(r.split()) for r in replies) / 3)


def test_the_suite_file_is_read_and_bad_lines_are_named(tmp_path: Path) -> None:
    items = load_generation_suite(GENERATION_SUITE)
    assert is_generation_suite(GENERATION_SUITE)
    assert not is_generation_suite(GENERATION_SUITE.parent / "tajik_suite.jsonl")
    assert items[0].task == "lesson_section" and items[0].reference
    assert any(item.id.startswith("pp-") and not item.reference for item in items)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "messages": [{"role": "user", "content": "x"}]}\n'
        '{"id": "a", "messages": [{"role": "user", "content": "y"}]}\n'
        '{"id": "b", "messages": [{"role": "assistant", "content": "z"}]}\n',
        encoding="utf-8",
    )
    with pytest.raises(GenerationSuiteError) as error:
        load_generation_suite(bad)
    assert "line 2: the id 'a' is used twice" in str(error.value)
    assert "line 3: the chat must end with the user's message" in str(error.value)


def test_the_committed_suite_is_what_the_data_renders(tmp_path: Path) -> None:
    """Training data, held-out split and suite agree: regenerating gives the same file."""
    examples = load_examples([DEMO_DIR])
    train, held_out = split_examples(examples)
    assert len(examples) >= 400 and not {e.id for e in train} & {e.id for e in held_out}
    assert 0.05 < len(held_out) / len(examples) < 0.15
    out = tmp_path / "suite.jsonl"
    write_suite(out, held_out, load_examples([PLATFORM_PROMPTS], require_reply=False))
    assert out.read_text(encoding="utf-8") == GENERATION_SUITE.read_text(encoding="utf-8")


def test_a_training_conversation_is_the_served_prompt_plus_the_reply() -> None:
    example = Example(
        id="t-1",
        task="lesson_section",
        inputs={
            "kind": "homework",
            "section_title": "Вазифаи хонагӣ",
            "topic": "Ҳуҷайра",
            "subject": "Биология",
            "grade": 9,
            "passages": ["Ҳуҷайра воҳиди асосии организм аст."],
        },
        reply="Саҳифаи 3-ро хонед ва расми ҳуҷайраро кашед [1].",
    )
    messages = conversation(example)
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[1]["content"].startswith("[1] Ҳуҷайра воҳиди асосии организм аст.\n\n")
    assert "Қисми нақша: Вазифаи хонагӣ. Вазифаи хонагӣ." in messages[1]["content"]
    assert messages[2]["content"] == example.reply
    assert is_held_out("t-1") == is_held_out("t-1")  # stable


def test_bad_example_files_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    lines = [
        {"id": "a", "task": "lesson_section", "inputs": {}, "reply": "x"},  # builder refuses
        {"id": "b", "task": "sing_a_song", "inputs": {}, "reply": "x"},
        {"id": "c", "task": "explain_concept", "inputs": {"concept": "x"}},
        {"id": "d", "task": "teacher_chat", "inputs": {"message": "Салом"}, "reply": " "},
    ]
    path.write_text(
        "\n".join(json.dumps(line) for line in lines) + "\nnot json\n", encoding="utf-8"
    )
    with pytest.raises(InstructionDataError) as error:
        load_examples([path])
    problems = error.value.problems
    assert problems[0].startswith("data.jsonl:1: the lesson_section builder refuses it")
    assert problems[1:] == [
        "data.jsonl:2: unknown task 'sing_a_song'",
        "data.jsonl:3: missing reply",
        "data.jsonl:4: the reply is empty",
        "data.jsonl:5: not JSON (Expecting value)",
    ]
