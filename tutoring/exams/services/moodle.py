"""Moodle's question formats for the types that map: GIFT (export) and Moodle XML (export
and import). Soro's own fields (topic, part, difficulty, clusters, source, textbook page)
travel as Moodle tags ``soro-topic:biology-9-01-01``, ``soro-part:B`` … so a file exported
from Soro imports back unchanged; a file written elsewhere needs at least the topic tag."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

_GIFT_SPECIAL = re.compile(r"([~=#{}:\\])")
TAG = "soro-"


def _gift(text: str) -> str:
    return _GIFT_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _number(value: float) -> str:
    return f"{value:g}"


def items_to_gift(items: Iterable[dict[str, Any]]) -> str:
    """Items (the bank's dicts) in GIFT. Matching keeps its pairs; a fifth right-hand item
    (a distractor) has no place in GIFT and is left out."""
    blocks = []
    for item in items:
        head = f"// {item['topic']} part {item['part']} difficulty {item['difficulty']}\n"
        head += f"::{_gift(item['id'])}::{_gift(item['stem'])} "
        feedback = f" ####{_gift(item['explanation'])}"
        if item["type"] == "choice":
            answers = " ".join(
                ("=" if index == item["answer"] else "~") + _gift(option)
                for index, option in enumerate(item["options"])
            )
        elif item["type"] == "matching":
            answers = " ".join(
                f"={_gift(item['left'][left])} -> {_gift(item['right'][right])}"
                for left, right in item["pairs"]
            )
        elif "numeric" in item:
            numeric = item["numeric"]
            answers = f"#{_number(numeric['value'])}:{_number(numeric['tolerance'])}"
        else:
            answers = " ".join(f"={_gift(word)}" for word in item["answers"])
        blocks.append(f"{head}{{{answers}{feedback}}}\n")
    return "\n".join(blocks)


def _sub(
    parent: ElementTree.Element, tag: str, text: str | None = None, **attrs: str
) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag, attrs)
    if text is not None:
        ElementTree.SubElement(element, "text").text = text
    return element


def items_to_moodle_xml(items: Iterable[dict[str, Any]]) -> str:
    """Items (the bank's dicts) as a Moodle XML quiz file."""
    quiz = ElementTree.Element("quiz")
    for item in items:
        kind = {"choice": "multichoice", "matching": "matching"}.get(item["type"])
        if kind is None:
            kind = "numerical" if "numeric" in item else "shortanswer"
        question = ElementTree.SubElement(quiz, "question", {"type": kind})
        _sub(question, "name", item["id"])
        _sub(question, "questiontext", item["stem"], format="plain_text")
        _sub(question, "generalfeedback", item["explanation"], format="plain_text")
        ElementTree.SubElement(question, "defaultgrade").text = "1"
        if kind == "multichoice":
            ElementTree.SubElement(question, "single").text = "true"
            ElementTree.SubElement(question, "shuffleanswers").text = "false"
            for index, option in enumerate(item["options"]):
                fraction = "100" if index == item["answer"] else "0"
                _sub(question, "answer", option, fraction=fraction, format="plain_text")
        elif kind == "matching":
            paired = dict(item["pairs"])
            written: list[int] = []  # right items in the order Moodle will list them
            for left, right in sorted(paired.items()):
                sub = _sub(question, "subquestion", item["left"][left], format="plain_text")
                _sub(sub, "answer", item["right"][right])
                written.append(right)
            for index, right_text in enumerate(item["right"]):
                if index not in paired.values():  # the distractor: a subquestion with no text
                    sub = _sub(question, "subquestion", "", format="plain_text")
                    _sub(sub, "answer", right_text)
                    written.append(index)
        elif kind == "numerical":
            answer = _sub(question, "answer", _number(item["numeric"]["value"]), fraction="100")
            ElementTree.SubElement(answer, "tolerance").text = _number(item["numeric"]["tolerance"])
        else:
            for word in item["answers"]:
                _sub(question, "answer", word, fraction="100")
        tags = ElementTree.SubElement(question, "tags")
        values = {
            "topic": item["topic"],
            "part": item["part"],
            "difficulty": item["difficulty"],
            "clusters": ",".join(str(c) for c in item["clusters"]),
            "source": item.get("source") or "",
        }
        if item["type"] == "matching":
            values["right-order"] = ",".join(str(index) for index in written)
        reference = item.get("reference")
        if reference:
            values["book"] = reference["book"]
            values["book-subject"] = reference.get("subject", "")
            values["book-grade"] = reference.get("grade", "")
            values["book-page"] = reference["page"]
        for key, value in values.items():
            _sub(tags, "tag", f"{TAG}{key}:{value}")
    ElementTree.indent(quiz)
    body = ElementTree.tostring(quiz, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _text(element: ElementTree.Element | None) -> str:
    if element is None:
        return ""
    raw = element.findtext("text") or ""
    if element.get("format") == "html" or "<" in raw:
        raw = html.unescape(strip_tags(raw))
    return raw.strip()


def _fraction(answer: ElementTree.Element) -> float:
    try:
        return float(answer.get("fraction", "0"))
    except ValueError:
        return 0.0


def _int(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value


def moodle_xml_to_items(text: str) -> list[dict[str, Any]]:
    """The questions of a Moodle XML file in the bank's format (checked later by the bank,
    row by row). Categories are skipped; other question types are refused by name."""
    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as error:
        raise ValidationError(
            _("The file is not valid Moodle XML (line %(line)s).") % {"line": error.position[0]},
            code="xml",
        ) from None
    if root.tag != "quiz":
        raise ValidationError(_("The file is not a Moodle XML quiz."), code="xml")
    items: list[dict[str, Any]] = []
    for question in root.iter("question"):
        kind = question.get("type")
        if kind == "category":
            continue
        tags: dict[str, str] = {}
        for tag in question.iterfind("tags/tag"):
            name, _sep, value = (tag.findtext("text") or "").partition(":")
            if name.startswith(TAG):
                tags[name.removeprefix(TAG)] = value
        item: dict[str, Any] = {
            "id": _text(question.find("name")),
            "topic": tags.get("topic", ""),
            "part": tags.get("part", "B"),
            "difficulty": _int(tags.get("difficulty", "2")),
            "clusters": [_int(c) for c in tags.get("clusters", "").split(",") if c],
            "stem": _text(question.find("questiontext")),
            "explanation": _text(question.find("generalfeedback")),
            "source": tags.get("source", "Moodle XML"),
            "reference": None,
        }
        if tags.get("book"):
            item["reference"] = {
                "book": tags["book"],
                "subject": tags.get("book-subject", ""),
                "grade": _int(tags.get("book-grade", "")),
                "page": _int(tags.get("book-page", "")),
            }
        answers = question.findall("answer")
        if kind == "multichoice":
            item["type"] = "choice"
            item["options"] = [_text(a) for a in answers]
            keys = [i for i, a in enumerate(answers) if _fraction(a) >= 100]
            item["answer"] = keys[0] if len(keys) == 1 else None
        elif kind == "matching":
            item["type"] = "matching"
            left: list[str] = []
            right: list[str] = []
            pairs: list[list[int]] = []
            for sub in question.findall("subquestion"):
                right_text = _text(sub.find("answer"))
                if right_text not in right:
                    right.append(right_text)
                if _text(sub):
                    pairs.append([len(left), right.index(right_text)])
                    left.append(_text(sub))
            order = [int(i) for i in tags.get("right-order", "").split(",") if i.isdigit()]
            if sorted(order) == list(range(len(right))):  # Soro's own order, kept in a tag
                right = [right[order.index(i)] for i in range(len(right))]
                pairs = [[left_index, order[r]] for left_index, r in pairs]
            item.update(left=left, right=right, pairs=pairs)
        elif kind == "shortanswer":
            item["type"] = "short"
            item["answers"] = [_text(a) for a in answers if _fraction(a) >= 100]
        elif kind == "numerical":
            item["type"] = "short"
            answer = answers[0] if answers else None
            key: float | None
            try:
                key = float(_text(answer).replace(",", "."))
                tolerance = float((answer.findtext("tolerance") if answer is not None else "") or 0)
            except ValueError:
                key, tolerance = None, -1.0
            item["numeric"] = {
                "value": int(key) if key is not None and key.is_integer() else key,
                "tolerance": int(tolerance) if tolerance.is_integer() else tolerance,
            }
        else:
            item["type"] = kind or "?"
        items.append(item)
    if not items:
        raise ValidationError(_("The file has no items."), code="empty")
    return items
