"""The question bank: checking items, importing and exporting files, writing and approving
items in the browser. Every edit of an item's text or key adds a version."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from soro_web.curriculum.models import Topic
from tutoring.exams.models import Item, ItemType, ItemVersion
from tutoring.exams.services.scoring import LABELS, label_index, strip_printed_label

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEMO_BANK = DATA_DIR / "demo_bank.json"
BANK_FORMAT = "soro-question-bank"
_CODE = re.compile(r"^[a-z][a-z0-9]*-\d{3,}$")
CSV_COLUMNS = [
    "id", "type", "subject", "grade", "part", "topic", "difficulty", "clusters", "stem",
    "options", "answer", "left", "right", "pairs", "answers", "numeric", "tolerance",
    "explanation", "source", "ref_book", "ref_subject", "ref_grade", "ref_page",
]  # fmt: skip
LIST_SEPARATOR = " | "
EXPORT_FORMATS = {
    "json": "application/json",
    "csv": "text/csv",
    "gift": "text/plain",
    "xml": "application/xml",
}


@dataclass
class CleanItem:
    code: str
    type: str
    topic: Topic
    part: str
    difficulty: int
    clusters: list[int]
    stem: str
    content: dict[str, Any]
    explanation: str
    source: str
    reference: dict[str, Any] | None


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _text(data: Mapping[str, Any], key: str, problems: list[str], what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(_("%(field)s is missing") % {"field": what})
        return ""
    return value.strip()


def _texts(value: Any, sizes: tuple[int, ...], what: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(_("%(field)s must be a list of texts") % {"field": what})
        return []
    cleaned = [strip_printed_label(v) for v in value]
    if len(cleaned) not in sizes:
        problems.append(
            _("%(field)s must have %(count)s entries") % {"field": what, "count": sizes[0]}
        )
    elif len(set(cleaned)) != len(cleaned):
        problems.append(_("%(field)s must all be different") % {"field": what})
    return cleaned


def _content(kind: str, data: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    if kind == ItemType.CHOICE:
        options = _texts(data.get("options"), (4,), _("options"), problems)
        answer = data.get("answer")
        if isinstance(answer, str):
            answer = label_index(answer)
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer <= 3:
            problems.append(_("the answer must name one of the four options"))
            return {}
        return {"options": options, "answer": answer}
    if kind == ItemType.MATCHING:
        left = _texts(data.get("left"), (4,), _("the left column"), problems)
        right = _texts(data.get("right"), (4, 5), _("the right column"), problems)
        pairs = data.get("pairs")
        ok = isinstance(pairs, list) and all(
            isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(i, int) for i in p)
            for p in pairs
        )
        if not ok or not left or not right or not isinstance(pairs, list):
            problems.append(_("the pairs must name every left item once"))
            return {}
        lefts = sorted(p[0] for p in pairs)
        rights = [p[1] for p in pairs]
        if lefts != list(range(len(left))) or len(set(rights)) != len(rights):
            problems.append(_("the pairs must name every left item once"))
        elif not all(0 <= r < len(right) for r in rights):
            problems.append(_("the pairs must name items of the right column"))
        return {"left": left, "right": right, "pairs": sorted([list(p) for p in pairs])}
    if kind == ItemType.SHORT:
        answers, numeric = data.get("answers"), data.get("numeric")
        if bool(answers) == bool(numeric):
            problems.append(_("a short item needs either accepted words or a number"))
            return {}
        if answers:
            if not isinstance(answers, list) or not all(
                isinstance(a, str) and a.strip() for a in answers
            ):
                problems.append(_("the accepted answers must be a list of words"))
                return {}
            return {"answers": [a.strip() for a in answers]}
        if not isinstance(numeric, Mapping):
            problems.append(_("the number must have a value and a tolerance"))
            return {}
        value, tolerance = numeric.get("value"), numeric.get("tolerance", 0)
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (value, tolerance)
        )
        if not numbers or tolerance < 0:
            problems.append(_("the number must have a value and a tolerance of at least 0"))
            return {}
        return {"numeric": {"value": value, "tolerance": tolerance}}
    problems.append(_("the type must be choice, matching or short"))
    return {}


def item_clean(data: Mapping[str, Any], *, topics: Mapping[str, Topic], where: str) -> CleanItem:
    """Check one item written in the bank format; a ``ValidationError`` names ``where``
    ("item 5 (bio-005)") and every problem found."""
    problems: list[str] = []
    code = str(data.get("id") or "").strip()
    if not _CODE.match(code):
        problems.append(_("the id must look like bio-001"))
    kind = str(data.get("type") or "")
    topic = topics.get(str(data.get("topic") or ""))
    if topic is None:
        problems.append(_("the topic code is not in the curriculum"))
    else:
        if data.get("subject") != topic.subject.code:
            problems.append(_("the subject is not the topic's subject"))
        if data.get("grade") != topic.grade.number:
            problems.append(_("the grade is not the topic's grade"))
    part = data.get("part")
    if part not in ("A", "B"):
        problems.append(_("the part must be A or B"))
    difficulty = data.get("difficulty")
    if difficulty not in (1, 2, 3):
        problems.append(_("the difficulty must be 1, 2 or 3"))
    clusters = data.get("clusters") or []
    if not isinstance(clusters, list) or not all(c in (1, 2, 3, 4, 5) for c in clusters):
        problems.append(_("the clusters must be numbers from 1 to 5"))
        clusters = []
    stem = _text(data, "stem", problems, _("the question"))
    explanation = _text(data, "explanation", problems, _("the explanation"))
    source = str(data.get("source") or "").strip()
    content = _content(kind, data, problems)
    reference = data.get("reference")
    if reference is not None:
        ok = (
            isinstance(reference, Mapping)
            and isinstance(reference.get("book"), str)
            and isinstance(reference.get("page"), int)
        )
        if not ok:
            problems.append(_("the textbook reference needs a book title and a page number"))
            reference = None
        else:
            reference = {
                k: reference[k] for k in ("book", "subject", "grade", "page") if k in reference
            }
    if problems:
        raise ValidationError(
            _("%(where)s: %(problems)s") % {"where": where, "problems": "; ".join(problems)},
            code="item",
        )
    assert topic is not None
    return CleanItem(
        code=code,
        type=kind,
        topic=topic,
        part=str(part),
        difficulty=int(difficulty),  # type: ignore[arg-type]
        clusters=[int(c) for c in clusters],
        stem=stem,
        content=content,
        explanation=explanation,
        source=source,
        reference=reference,
    )


# --- files ----------------------------------------------------------------------------


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|")] if value.strip() else []


def _csv_pairs(value: str) -> list[list[int]] | None:
    pairs = []
    for chunk in filter(None, (c.strip() for c in re.split(r"[;,]", value))):
        left, _sep, right = chunk.partition("-")
        right_index = label_index(right) if not right.strip().isdigit() else int(right) - 1
        if right.strip() in ("Д", "д", "E", "e"):
            right_index = 4
        if not left.strip().isdigit() or right_index is None:
            return None
        pairs.append([int(left) - 1, right_index])
    return pairs


def _csv_item(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row in the bank's JSON shape (lists separated by "|", 1-based pairs)."""

    def number(key: str) -> Any:
        value = (row.get(key) or "").strip()
        try:
            return int(value)
        except ValueError:
            try:
                return float(value.replace(",", "."))
            except ValueError:
                return value or None

    item: dict[str, Any] = {
        key: (row.get(key) or "").strip()
        for key in ("id", "type", "subject", "part", "topic", "stem", "explanation", "source")
    }
    item["grade"] = number("grade")
    item["difficulty"] = number("difficulty")
    item["clusters"] = [int(c) if c.isdigit() else c for c in _split(row.get("clusters") or "")]
    if item["type"] == "choice":
        item["options"] = _split(row.get("options") or "")
        item["answer"] = (row.get("answer") or "").strip()
    elif item["type"] == "matching":
        item["left"] = _split(row.get("left") or "")
        item["right"] = _split(row.get("right") or "")
        item["pairs"] = _csv_pairs(row.get("pairs") or "")
    elif item["type"] == "short":
        if (row.get("numeric") or "").strip():
            item["numeric"] = {"value": number("numeric"), "tolerance": number("tolerance") or 0}
        else:
            item["answers"] = _split(row.get("answers") or "")
    if (row.get("ref_book") or "").strip():
        item["reference"] = {
            "book": row["ref_book"].strip(),
            "subject": (row.get("ref_subject") or "").strip(),
            "grade": number("ref_grade"),
            "page": number("ref_page"),
        }
    else:
        item["reference"] = None
    return item


def bank_parse(*, text: str, file_format: str) -> list[dict[str, Any]]:
    """The items of a bank file (``json``, ``csv``, Moodle ``xml`` or ``gift``) as dicts; a
    ``ValidationError`` when the file itself cannot be read."""
    if file_format == "xml":
        from tutoring.exams.services.moodle import moodle_xml_to_items

        return moodle_xml_to_items(text)
    if file_format == "gift":
        from tutoring.exams.services.moodle import gift_to_items

        return gift_to_items(text)
    if file_format == "json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(
                _("The file is not valid JSON (line %(line)s).") % {"line": error.lineno},
                code="json",
            ) from None
        if not isinstance(document, dict) or document.get("format") != BANK_FORMAT:
            raise ValidationError(
                _("The file is not a Soro question bank (format %(format)s).")
                % {"format": BANK_FORMAT},
                code="format",
            )
        items = document.get("items")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise ValidationError(_("The file has no items."), code="empty")
        return items
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"id", "type", "topic", "stem"} - set(reader.fieldnames or [])
    if missing:
        raise ValidationError(
            _("The CSV file lacks the columns: %(columns)s.")
            % {"columns": ", ".join(sorted(missing))},
            code="columns",
        )
    items = [_csv_item(row) for row in reader]
    if not items:
        raise ValidationError(_("The file has no items."), code="empty")
    return items


def bank_import(
    *, text: str, file_format: str, approve: bool = False, user: User | None = None
) -> ImportReport:
    """Import a bank file: every item is checked first, and nothing is written unless all
    are valid (the error names each bad row). Existing ids get a new version when their
    text or key changed."""
    raw_items = bank_parse(text=text, file_format=file_format)
    topics = {t.code: t for t in Topic.objects.select_related("subject", "grade")}
    problems: list[str] = []
    clean: list[CleanItem] = []
    seen: set[str] = set()
    for number, data in enumerate(raw_items, start=1):
        where = _("row %(number)s (%(id)s)") % {"number": number, "id": data.get("id") or "?"}
        topic = topics.get(str(data.get("topic") or ""))
        if topic is not None and "subject" not in data:  # Moodle files name only the topic
            data = {**data, "subject": topic.subject.code, "grade": topic.grade.number}
        try:
            item = item_clean(data, topics=topics, where=where)
        except ValidationError as error:
            problems.extend(error.messages)
            continue
        if item.code in seen:
            problems.append(_("%(where)s: the id is used twice") % {"where": where})
        seen.add(item.code)
        clean.append(item)
    if problems:
        raise ValidationError(problems, code="invalid")
    report = ImportReport()
    with transaction.atomic():
        existing = {
            item.code: item for item in Item.objects.select_related("current").filter(code__in=seen)
        }
        for cleaned in clean:
            outcome = _item_write(cleaned, existing.get(cleaned.code), user=user, approve=approve)
            getattr(report, outcome).append(cleaned.code)
    return report


def bank_import_file(*, path: Path, approve: bool = False) -> ImportReport:
    file_format = {".csv": "csv", ".xml": "xml", ".gift": "gift", ".txt": "gift"}.get(
        path.suffix.lower(), "json"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError(
            _("Cannot read %(path)s: %(error)s") % {"path": path, "error": error}, code="read"
        ) from None
    return bank_import(text=text, file_format=file_format, approve=approve)


def _version_fields(cleaned: CleanItem) -> dict[str, Any]:
    return {
        "type": cleaned.type,
        "stem": cleaned.stem,
        "content": cleaned.content,
        "explanation": cleaned.explanation,
        "source": cleaned.source,
        "reference": cleaned.reference,
    }


def _item_write(cleaned: CleanItem, item: Item | None, *, user: User | None, approve: bool) -> str:
    fields = {
        "type": cleaned.type,
        "subject_id": cleaned.topic.subject_id,
        "grade_id": cleaned.topic.grade_id,
        "topic": cleaned.topic,
        "part": cleaned.part,
        "difficulty": cleaned.difficulty,
        "clusters": cleaned.clusters,
    }
    outcome = "updated"
    if item is None:
        item = Item(code=cleaned.code, author=user, school=getattr(user, "school", None))
        outcome = "created"
    meta_changed = any(getattr(item, key) != value for key, value in fields.items())
    version = _version_fields(cleaned)
    current = item.current
    text_changed = current is None or any(
        getattr(current, key) != value for key, value in version.items()
    )
    for key, value in fields.items():
        setattr(item, key, value)
    if approve and not item.is_approved:
        item.status = Item.Status.APPROVED
        meta_changed = True
    if not (meta_changed or text_changed):
        return "unchanged"
    item.save()
    if text_changed:
        item.version += 1
        item.current = ItemVersion.objects.create(
            item=item, number=item.version, created_by=user, **version
        )
        item.save(update_fields=["version", "current"])
    return outcome


def item_as_dict(item: Item) -> dict[str, Any]:
    """An item in the bank's JSON format (its current version)."""
    version = item.current
    assert version is not None
    data: dict[str, Any] = {
        "id": item.code,
        "type": item.type,
        "subject": item.topic.subject.code,
        "grade": item.topic.grade.number,
        "part": item.part,
        "topic": item.topic.code,
        "difficulty": item.difficulty,
        "clusters": item.clusters,
        "stem": version.stem,
        **version.content,
        "explanation": version.explanation,
        "source": version.source,
        "reference": version.reference,
    }
    return data


def bank_export(*, items: Iterable[Item], file_format: str) -> str:
    """Items as a bank file (JSON, CSV or Moodle XML) that :func:`bank_import` reads back
    unchanged, or as GIFT for Moodle (export only)."""
    dicts = [item_as_dict(item) for item in items]
    if file_format in ("gift", "xml"):
        from tutoring.exams.services.moodle import items_to_gift, items_to_moodle_xml

        return items_to_gift(dicts) if file_format == "gift" else items_to_moodle_xml(dicts)
    if file_format == "json":
        document = {"format": BANK_FORMAT, "version": 1, "items": dicts}
        return json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for data in dicts:
        row: dict[str, Any] = {key: data.get(key, "") for key in CSV_COLUMNS[:9]}
        row["clusters"] = LIST_SEPARATOR.join(str(c) for c in data["clusters"])
        if data["type"] == "choice":
            row["options"] = LIST_SEPARATOR.join(data["options"])
            row["answer"] = LABELS[data["answer"]]
        elif data["type"] == "matching":
            row["left"] = LIST_SEPARATOR.join(data["left"])
            row["right"] = LIST_SEPARATOR.join(data["right"])
            row["pairs"] = "; ".join(f"{a + 1}-{b + 1}" for a, b in data["pairs"])
        elif "numeric" in data:
            row["numeric"] = data["numeric"]["value"]
            row["tolerance"] = data["numeric"]["tolerance"]
        else:
            row["answers"] = LIST_SEPARATOR.join(data["answers"])
        for key in ("explanation", "source"):
            row[key] = data[key]
        reference = data.get("reference")
        if reference:
            row["ref_book"] = reference.get("book", "")
            row["ref_subject"] = reference.get("subject", "")
            row["ref_grade"] = reference.get("grade", "")
            row["ref_page"] = reference.get("page", "")
        writer.writerow(row)
    return out.getvalue()


# --- the browser ----------------------------------------------------------------------


def _items_for_teacher(user: User) -> Any:
    return Item.objects.filter(
        Q(pk__in=Item.objects.editable_by(user).values("pk")) | Q(status=Item.Status.APPROVED)
    )


ITEM_LIST_LIMIT = 500


def items_for_teacher(*, user: User, topic_id: int | None = None) -> list[Item]:
    """The items a teacher may edit (drafts first), and every approved item of the bank
    (the first ``ITEM_LIST_LIMIT``; the exports have them all)."""
    items = _items_for_teacher(user)
    if topic_id:
        items = items.filter(topic_id=topic_id)
    return list(
        items.select_related("topic", "current").order_by("status", "code")[:ITEM_LIST_LIMIT]
    )


def item_get_for_editor(*, user: User, pk: int) -> Item:
    from django.http import Http404

    item = (
        Item.objects.editable_by(user)
        .select_related("current", "topic__subject", "topic__grade")
        .filter(pk=pk)
        .first()
    )
    if item is None:
        raise Http404(_("No such question."))
    return item


def _next_code(user: User) -> str:
    prefix = f"t{user.pk}"
    taken = Item.objects.filter(code__startswith=f"{prefix}-").count()
    return f"{prefix}-{taken + 1:03d}"


def item_save(*, user: User, data: Mapping[str, Any], item: Item | None = None) -> Item:
    """Create (``item`` None) or edit an item from the bank-format ``data``. An edit of the
    text or key adds a version; an edited approved item goes back to draft."""
    if not (user.is_teacher or user.is_staff):
        raise PermissionDenied
    data = dict(data)
    data["id"] = item.code if item is not None else _next_code(user)
    topics = {}
    topic = Topic.objects.select_related("subject", "grade").filter(code=data.get("topic")).first()
    if topic is not None:
        topics[topic.code] = topic
        data.setdefault("subject", topic.subject.code)
        data.setdefault("grade", topic.grade.number)
    cleaned = item_clean(data, topics=topics, where=_("The question"))
    with transaction.atomic():
        if item is not None:
            item = (
                Item.objects.select_for_update(of=("self",))
                .select_related("current")
                .get(pk=item.pk)
            )
            before = item.current
            _item_write(cleaned, item, user=user, approve=False)
            if item.current != before and item.is_approved:
                item.status = Item.Status.DRAFT
                item.save(update_fields=["status"])
            return item
        _item_write(cleaned, None, user=user, approve=False)
        return Item.objects.get(code=cleaned.code)


def item_approve(*, user: User, item: Item) -> Item:
    """A teacher of the item's school (or staff) approves it for practice and tests."""
    if not Item.objects.editable_by(user).filter(pk=item.pk).exists():
        raise PermissionDenied(_("You may not approve this question."))
    Item.objects.filter(pk=item.pk).update(status=Item.Status.APPROVED, approved_by=user)
    item.refresh_from_db()
    return item


def item_key(*, item: Item) -> str:
    """The key of the item's current version, as a teacher reads it."""
    from tutoring.exams.services.scoring import key_text

    assert item.current is not None
    return key_text(item_type=item.type, content=item.current.content)


def bank_export_for(*, user: User, file_format: str) -> str:
    """The items a teacher sees (their school's and the approved bank) as JSON or CSV."""
    from django.http import Http404

    if file_format not in EXPORT_FORMATS:
        raise Http404(_("Export as json, csv, gift or xml."))
    items = (
        _items_for_teacher(user)
        .filter(current__isnull=False)
        .select_related("current", "topic__subject", "topic__grade")
        .order_by("code")
    )
    return bank_export(items=items, file_format=file_format)
