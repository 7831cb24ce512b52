"""The labelled Tajik questions of benchmarks/retrieval_quality.py are usable: each answer
is on its labelled page, each question is in one part, and no question is answered by the
distractor pages."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "tutoring" / "data"
PAGE = re.compile(r"<!--\s*page\s+(\d+)\s*-->")


def pages(path: Path) -> dict[int, str]:
    parts = PAGE.split(path.read_text(encoding="utf-8"))
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_answer_is_on_its_page_and_every_question_has_a_part() -> None:
    questions = [
        json.loads(line)
        for line in (DATA / "retrieval_eval.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    books = {name: pages(DATA / "textbooks" / name) for name in {q["book"] for q in questions}}
    distractors = pages(DATA / "retrieval_distractors.md")

    missing = [q["id"] for q in questions if q["answer"] not in books[q["book"]][q["page"]]]
    assert missing == []
    assert Counter(q["split"] for q in questions).keys() == {"tune", "heldout"}
    assert len({q["id"] for q in questions}) == len(questions) >= 299
    in_distractors = [
        q["id"] for q in questions if any(q["answer"] in page for page in distractors.values())
    ]
    assert in_distractors == []
