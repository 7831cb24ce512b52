"""Moodle's question formats for the types that map: GIFT and Moodle XML (export and
import). Soro's own fields (topic, part, difficulty, clusters, source, textbook page)
travel as Moodle tags ``soro-topic:biology-9-01-01``, ``soro-part:B`` … (in GIFT, as comment
lines ``// soro-topic:…``) so a file exported from Soro imports back unchanged; a file
written elsewhere needs at least the topic tag."""

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


def _soro_tags(item: dict[str, Any]) -> dict[str, Any]:
    """Soro's own fields as ``soro-…`` tag values (shared by the XML and GIFT exports)."""
    values: dict[str, Any] = {
        "topic": item["topic"],
        "part": item["part"],
        "difficulty": item["difficulty"],
        "clusters": ",".join(str(c) for c in item["clusters"]),
        "source": item.get("source") or "",
    }
    reference = item.get("reference")
    if reference:
        values["book"] = reference["book"]
        values["book-subject"] = reference.get("subject", "")
        values["book-grade"] = reference.get("grade", "")
        values["book-page"] = reference["page"]
    return values


def items_to_gift(items: Iterable[dict[str, Any]]) -> str:
    """Items (the bank's dicts) in GIFT. Soro's fields travel as ``// soro-…:`` comment lines
    (Moodle skips comments). A matching item's fifth right-hand item (a distractor) has no
    place in GIFT's answers: it travels as a ``// soro-distractor:`` comment."""
    blocks = []
    for item in items:
        head = f"// {item['topic']} part {item['part']} difficulty {item['difficulty']}\n"
        values = _soro_tags(item)
        distractors: list[str] = []
        if item["type"] == "matching":
            paired = dict(item["pairs"])
            written = [paired[left] for left in sorted(paired)]
            distractors = [r for i, r in enumerate(item["right"]) if i not in paired.values()]
            written += [i for i in range(len(item["right"])) if i not in paired.values()]
            values["right-order"] = ",".join(str(index) for index in written)
        for key, value in values.items():
            head += f"// {TAG}{key}:{str(value).replace(chr(10), ' ')}\n"
        for text in distractors:
            head += f"// {TAG}distractor:{text}\n"
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
                for left, right in sorted(item["pairs"])
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
        values = _soro_tags(item)
        if item["type"] == "matching":
            values["right-order"] = ",".join(str(index) for index in written)
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


def _item_base(
    tags: dict[str, str], *, code: str, stem: str, explanation: str, source: str
) -> dict[str, Any]:
    """The fields every imported item has, Soro's own ones read from its ``soro-`` tags."""
    item: dict[str, Any] = {
        "id": code,
        "topic": tags.get("topic", ""),
        "part": tags.get("part", "B"),
        "difficulty": _int(tags.get("difficulty", "2")),
        "clusters": [_int(c) for c in tags.get("clusters", "").split(",") if c],
        "stem": stem,
        "explanation": explanation,
        "source": tags.get("source", source),
        "reference": None,
    }
    if tags.get("book"):
        item["reference"] = {
            "book": tags["book"],
            "subject": tags.get("book-subject", ""),
            "grade": _int(tags.get("book-grade", "")),
            "page": _int(tags.get("book-page", "")),
        }
    return item


def _right_in_order(
    right: list[str], pairs: list[list[int]], tags: dict[str, str]
) -> tuple[list[str], list[list[int]]]:
    """Soro's own order of a matching item's right column, kept in the ``right-order`` tag."""
    order = [int(i) for i in tags.get("right-order", "").split(",") if i.isdigit()]
    if sorted(order) == list(range(len(right))):
        right = [right[order.index(i)] for i in range(len(right))]
        pairs = [[left_index, order[r]] for left_index, r in pairs]
    return right, pairs


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
        item = _item_base(
            tags,
            code=_text(question.find("name")),
            stem=_text(question.find("questiontext")),
            explanation=_text(question.find("generalfeedback")),
            source="Moodle XML",
        )
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
            right, pairs = _right_in_order(right, pairs, tags)
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


# --- GIFT import ------------------------------------------------------------------------------

_GIFT_ESCAPES = {"n": "\n"}


def _gift_find(text: str, needle: str, start: int = 0) -> int:
    """The index of the first ``needle`` in ``text`` from ``start`` that is not escaped
    with a backslash, or -1."""
    index = start
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text.startswith(needle, index):
            return index
        index += 1
    return -1


def _gift_split(text: str, markers: str) -> list[tuple[str, str]]:
    """``text`` cut before each unescaped marker character: (marker, rest) pairs; what comes
    before the first marker has the marker ""."""
    parts: list[tuple[str, str]] = []
    marker, start, index = "", 0, 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] in markers:
            parts.append((marker, text[start:index]))
            marker, start = text[index], index + 1
        index += 1
    parts.append((marker, text[start:]))
    return parts


def _gift_text(raw: str) -> str:
    """Unescape GIFT text (a backslash before ``=~#{}:\\`` keeps the character; ``\\n`` is a
    new line) and trim it."""
    out: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw):
            following = raw[index + 1]
            out.append(_GIFT_ESCAPES.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out).strip()


def _gift_blocks(text: str) -> list[tuple[dict[str, str], list[str], str]]:
    """The questions of a GIFT file (separated by blank lines): their ``soro-`` comment tags,
    distractor comments and text. Other comments and ``$CATEGORY:`` lines are skipped."""
    blocks: list[tuple[dict[str, str], list[str], str]] = []
    tags: dict[str, str] = {}
    distractors: list[str] = []
    lines: list[str] = []

    def close() -> None:
        nonlocal tags, distractors, lines
        if lines:
            blocks.append((tags, distractors, "\n".join(lines)))
        tags, distractors, lines = {}, [], []

    for line in text.lstrip("\ufeff").splitlines():
        stripped = line.strip()
        if not stripped:
            close()
            continue
        if stripped.startswith("//"):
            name, _sep, value = stripped[2:].strip().partition(":")
            if name == f"{TAG}distractor":
                distractors.append(value)
            elif name.startswith(TAG):
                tags[name.removeprefix(TAG)] = value
            continue
        if stripped.startswith("$CATEGORY:"):
            continue
        lines.append(line)
    close()
    return blocks


class _Refused(Exception):
    pass


def _gift_answers(block: str, item: dict[str, Any], distractors: list[str]) -> None:
    """Fill ``item`` from the answer block (what is between the braces) or raise _Refused."""
    feedback_at = _gift_find(block, "####")
    if feedback_at >= 0:
        item["explanation"] = _gift_text(block[feedback_at + 4 :])
        block = block[:feedback_at]
    block = block.strip()
    if not block:
        raise _Refused(_("an essay question (empty braces) cannot be imported"))
    if _gift_split(block, "#")[0][1].strip().upper() in ("T", "F", "TRUE", "FALSE"):
        raise _Refused(_("a true/false question cannot be imported"))
    if block.startswith("#"):
        numeric = block[1:].strip()
        if _gift_find(numeric, "=") >= 0 or _gift_find(numeric, "~") >= 0:
            raise _Refused(_("a numeric question with several answers cannot be imported"))
        numeric = _gift_split(numeric, "#")[0][1]  # an answer's own feedback is dropped
        value, _sep, tolerance = _gift_text(numeric).partition(":")
        try:
            key = float(value.replace(",", "."))
            margin = float(tolerance.replace(",", ".")) if tolerance else 0.0
        except ValueError:
            raise _Refused(_("the numeric answer is not a number")) from None
        item["type"] = "short"
        item["numeric"] = {
            "value": int(key) if key.is_integer() else key,
            "tolerance": int(margin) if margin.is_integer() else margin,
        }
        return
    parts = _gift_split(block, "=~")
    if parts[0][1].strip():
        raise _Refused(_("each answer must start with = or ~"))
    answers: list[tuple[str, str]] = []
    for marker, raw in parts[1:]:
        raw = _gift_split(raw, "#")[0][1]  # an answer's own feedback is dropped
        if raw.lstrip().startswith("%"):
            raise _Refused(_("answers with weights (partial credit) cannot be imported"))
        answers.append((marker, raw))
    if any(_gift_find(raw, "->") >= 0 for _marker, raw in answers):
        if any(marker != "=" or _gift_find(raw, "->") < 0 for marker, raw in answers):
            raise _Refused(_("each answer of a matching question must be written =left -> right"))
        left: list[str] = []
        right: list[str] = []
        pairs: list[list[int]] = []
        for _marker, raw in answers:
            arrow = _gift_find(raw, "->")
            left_text, right_text = _gift_text(raw[:arrow]), _gift_text(raw[arrow + 2 :])
            if right_text not in right:
                right.append(right_text)
            if left_text:
                pairs.append([len(left), right.index(right_text)])
                left.append(left_text)
        for text in distractors:
            if text not in right:
                right.append(text)
        right, pairs = _right_in_order(right, pairs, item.pop("_tags"))
        item.update(type="matching", left=left, right=right, pairs=pairs)
        return
    keys = [index for index, (marker, _raw) in enumerate(answers) if marker == "="]
    if any(marker == "~" for marker, _raw in answers):
        if len(keys) != 1:
            raise _Refused(_("a multiple choice question needs exactly one right answer (=)"))
        item.update(type="choice", options=[_gift_text(raw) for _m, raw in answers], answer=keys[0])
        return
    item.update(type="short", answers=[_gift_text(raw) for _m, raw in answers])


def gift_to_items(text: str) -> list[dict[str, Any]]:
    """The questions of a GIFT file in the bank's format (checked later by the bank, row by
    row). Multiple choice with one right answer, matching, short answer and numeric map;
    other GIFT types are refused with the question's number, and then nothing is imported."""
    items: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, (tags, distractors, body) in enumerate(_gift_blocks(text), start=1):
        code = ""
        if body.lstrip().startswith("::"):
            start = body.index("::") + 2
            end = _gift_find(body, "::", start)
            if end >= 0:
                code, body = _gift_text(body[start:end]), body[end + 2 :]
        where = _("question %(number)s (%(id)s)") % {"number": number, "id": code or "?"}
        opening = _gift_find(body, "{")
        closing = _gift_find(body, "}", opening + 1) if opening >= 0 else -1
        if opening < 0 or closing < 0:
            problems.append(
                _("%(where)s: no answers in braces { … }") % {"where": where},
            )
            continue
        before, after = body[:opening], body[closing + 1 :]
        stem = _gift_text(before)
        if _gift_text(after):
            stem = f"{stem} _____ {_gift_text(after)}"
        if stem.startswith("[") and "]" in stem[:20]:  # a format marker: [plain], [html] …
            stem = stem[stem.index("]") + 1 :].strip()
        item = _item_base(tags, code=code, stem=stem, explanation="", source="GIFT")
        item["_tags"] = tags
        try:
            _gift_answers(body[opening + 1 : closing], item, distractors)
        except _Refused as refusal:
            problems.append(f"{where}: {refusal}")
            continue
        item.pop("_tags", None)
        items.append(item)
    if problems:
        raise ValidationError(problems, code="gift")
    if not items:
        raise ValidationError(_("The file has no items."), code="empty")
    return items
