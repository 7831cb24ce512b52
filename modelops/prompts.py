"""The prompt builders of every model feature, in one place.

The features (lesson builder, tutor, teacher chat, grading, question writing) build what they
send to the model here, and the instruction-tuning data is rendered from the very same
functions (``Prompt.conversation``), so what the model was trained on and what it is asked
in the platform cannot drift apart.

Django-free: plain strings and dataclasses in, :class:`Prompt` out. Prompts are short on
purpose: Tajik costs about 2.8 Gemma tokens a word, and on a school's CPU every prompt token
is waiting time before the first word appears.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from modelops.llm.budget import normalize_messages, with_context
from modelops.llm.types import ChatMessage

#: The closing line that asks for the reply's language.
LANGUAGE_LINES: dict[str, str] = {
    "tg": "Бо забони тоҷикӣ.",
    "ru": "По-русски.",
    "en": "In English.",
}

#: How many words of the teacher's current text a regeneration sees.
CURRENT_TEXT_WORDS = 60
#: How many characters of a teacher's instruction are passed on.
INSTRUCTION_CHARS = 200


@dataclass(frozen=True)
class Prompt:
    """What a feature sends to the model.

    ``context`` holds the passages that ground the reply, best first. The engine numbers
    them [1], [2], … and puts them before the last user message
    (:func:`modelops.llm.budget.with_context`); when the prompt is too long it drops them
    first. ``task`` names the builder (also the ``task`` field of training examples).
    """

    task: str
    messages: tuple[ChatMessage, ...]
    context: tuple[str, ...] = ()

    def planned_messages(self) -> list[ChatMessage]:
        """The chat exactly as the engine sends it when nothing has to be trimmed."""
        normalized = normalize_messages(self.messages)
        system = normalized[:1] if normalized[0].role == "system" else []
        turns = normalized[len(system) :]
        return [*system, *turns[:-1], with_context(turns[-1], list(self.context))]

    def conversation(self, reply: str) -> list[dict[str, str]]:
        """One training example (the OpenAI/TRL ``messages`` shape): the prompt as served,
        then ``reply`` as the assistant's turn."""
        messages = [{"role": m.role, "content": m.content} for m in self.planned_messages()]
        return [*messages, {"role": "assistant", "content": reply.strip()}]


def language_line(language: str) -> str:
    return LANGUAGE_LINES.get(language, LANGUAGE_LINES["tg"])


def trim_words(text: str, words: int) -> str:
    """The first ``words`` words of ``text``, with "…" when something was cut."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _lines(*lines: str) -> str:
    return "\n".join(line for line in lines if line).strip()


# --- lesson sections ------------------------------------------------------------------------

#: What to write for each kind of lesson section (the builder's section kinds).
LESSON_SECTION_TASKS: dict[str, str] = {
    "objectives": "Се мақсади дарс: хонанда чиро медонад ва чӣ карда метавонад.",
    "prior_knowledge": "Донишҳое, ки хонанда бояд пеш аз ин дарс донад.",
    "key_terms": "Истилоҳоти асосӣ бо шарҳи кӯтоҳ; баробари русиро дар қавс нависед.",
    "misconceptions": "Ду хатои маъмули хонандагон ва роҳи ислоҳи онҳо.",
    "warm_up": "Машқи кӯтоҳи оғозӣ барои панҷ дақиқа.",
    "new_material": "Шарҳи маводи нав бо забони содда.",
    "worked_examples": "Ду мисоли ҳалшуда, қадам ба қадам.",
    "checks": (
        "Се саволи тестӣ бо ҷавобҳои А, Б, В. Ҷавоби дурустро нишон диҳед ва шарҳ диҳед, "
        "ки чаро ҳар ҷавоби дигар нодуруст аст."
    ),
    "practice": "Чор машқ барои кори мустақил, аз осон ба душвор.",
    "differentiation": "Ёрӣ барои хонандагони заиф ва супориши душвор барои қавӣ.",
    "exit_ticket": "Ду саволи кӯтоҳ барои охири дарс.",
    "homework": "Вазифаи хонагӣ.",
    "materials": "Маводи лозимӣ барои дарс.",
}
LESSON_SYSTEM = (
    "Шумо ба муаллим нақшаи дарс менависед. Аз матнҳои китоб истифода баред ва баъди "
    "фикр рақами матнро дар қавс нависед, масалан [1]."
)
LESSON_SYSTEM_UNGROUNDED = "Шумо ба муаллим нақшаи дарс менависед."


def lesson_section(
    *,
    kind: str,
    section_title: str,
    topic: str,
    subject: str,
    grade: int,
    language: str = "tg",
    passages: Sequence[str] = (),
    instruction: str = "",
    current_text: str = "",
) -> Prompt:
    """Draft (or, with ``instruction`` and ``current_text``, rewrite) one lesson section.

    With ``passages`` the reply cites them as [n]; without, the system prompt does not ask
    for citations (an ungrounded draft, marked so in the builder).
    """
    task = LESSON_SECTION_TASKS.get(kind) or section_title
    instruction = instruction.strip()[:INSTRUCTION_CHARS]
    user = _lines(
        f"Мавзӯ: {topic} ({subject}, синфи {grade}).",
        f"Қисми нақша: {section_title}. {task}",
        f"Талаби муаллим: {instruction}" if instruction else "",
        f"Матни ҳозира: {trim_words(current_text, CURRENT_TEXT_WORDS)}"
        if instruction and current_text.strip()
        else "",
        language_line(language),
    )
    system = LESSON_SYSTEM if passages else LESSON_SYSTEM_UNGROUNDED
    return Prompt(
        task="lesson_section",
        messages=(ChatMessage("system", system), ChatMessage("user", user)),
        context=tuple(passages),
    )


# --- explanations and questions -------------------------------------------------------------

EXPLAIN_SYSTEM = (
    "Шумо муаллими меҳрубон ҳастед. Мафҳумро барои хонанда бо забони содда шарҳ диҳед ва як "
    "мисол оред. Аз матнҳои китоб истифода баред ва рақами матнро дар қавс нависед, "
    "масалан [1]."
)


def explain_concept(
    *,
    concept: str,
    subject: str,
    grade: int,
    language: str = "tg",
    passages: Sequence[str] = (),
) -> Prompt:
    """Explain a concept for a student of ``grade``."""
    user = _lines(
        f"Мафҳум: {concept.strip()}. Фан: {subject}, синфи {grade}.", language_line(language)
    )
    return Prompt(
        task="explain_concept",
        messages=(ChatMessage("system", EXPLAIN_SYSTEM), ChatMessage("user", user)),
        context=tuple(passages),
    )


QUESTIONS_SYSTEM = (
    "Шумо барои муаллим саволҳои тестӣ менависед. Ҳар савол чор ҷавоб дорад: А, Б, В, Г; "
    "танҳо яке дуруст аст. Баъди ҳар савол нависед «Ҷавоб:» ва ҳарфи ҷавоби дуруст, баъд "
    "«Шарҳ:» ва бигӯед, ки чаро ҳар ҷавоби дигар нодуруст аст. Аз матнҳои китоб истифода баред."
)


def write_questions(
    *,
    topic: str,
    subject: str,
    grade: int,
    count: int = 3,
    language: str = "tg",
    passages: Sequence[str] = (),
) -> Prompt:
    """Multiple-choice questions with the key and a reason for each wrong option."""
    user = _lines(
        f"Мавзӯ: {topic} ({subject}, синфи {grade}).",
        f"{count} савол нависед.",
        language_line(language),
    )
    return Prompt(
        task="write_questions",
        messages=(ChatMessage("system", QUESTIONS_SYSTEM), ChatMessage("user", user)),
        context=tuple(passages),
    )


# --- the tutor and the teachers' chat -------------------------------------------------------

TUTOR_SYSTEM = (
    "Шумо Соро, ёрдамчии хонанда ҳастед. Ҷавоби тайёрро нагӯед: бо ишора ва саволи роҳнамо "
    "хонандаро ба фикр кардан водор кунед. Аз матнҳои китоб истифода баред ва рақами матнро "
    "дар қавс нависед, масалан [1]. Ба дархостҳое, ки ба дарс алоқа надоранд, бо эҳтиром "
    "ҷавоб надиҳед."
)
#: What the tutor may do at each step: a first hint, a stronger one, then the explanation.
TUTOR_LEVELS: dict[int, str] = {
    1: "Як ишораи хурд диҳед ва як саволи роҳнамо пурсед. Ҷавобро нагӯед.",
    2: "Ишораи равшантар диҳед: қадами аввали ҳалро нишон диҳед, вале ҷавоби охиринро нагӯед.",
    3: "Хонанда кӯшиш кард. Акнун ҳалро қадам ба қадам шарҳ диҳед.",
}
#: Option letters as printed in Tajik tests.
OPTION_LETTERS = ("А", "Б", "В", "Г", "Д", "Е")


@dataclass(frozen=True)
class TutorItem:
    """A practice item the student asks about.

    ``key`` and ``explanation`` are given only once the student has answered the item; the
    tutor's caller never passes the key of an item that is still open (see docs/tutor.md),
    and :func:`tutor_reply` uses them only at the explaining step.
    """

    stem: str
    options: tuple[str, ...] = ()
    student_answer: str = ""
    is_correct: bool | None = None  # None: not answered yet
    key: str = ""
    explanation: str = ""


def _item_lines(item: TutorItem, *, level: int) -> list[str]:
    lines = [f"Саволи машқ: {item.stem.strip()}"]
    if item.options:
        lines.append(
            "Ҷавобҳо: "
            + "; ".join(
                f"{letter}) {option.strip()}"
                for letter, option in zip(OPTION_LETTERS, item.options, strict=False)
            )
        )
    if item.is_correct is not None:
        verdict = "дуруст" if item.is_correct else "нодуруст"
        lines.append(f"Ҷавоби хонанда: {item.student_answer.strip()} ({verdict}).")
        if level >= 3 and item.key:
            lines.append(f"Ҷавоби дуруст: {item.key.strip()}.")
            if item.explanation.strip():
                lines.append(f"Шарҳи китоб: {item.explanation.strip()}")
    return lines


def tutor_reply(
    *,
    message: str,
    grade: int,
    subject: str = "",
    level: int = 1,
    history: Sequence[ChatMessage] = (),
    item: TutorItem | None = None,
    language: str = "tg",
    passages: Sequence[str] = (),
) -> Prompt:
    """The student tutor's next turn: Socratic at ``level`` 1 and 2, explaining at 3.

    ``history`` holds the earlier turns (user/assistant) of the conversation.
    """
    level = min(max(level, 1), 3)
    about = f"Хонандаи синфи {grade}" + (f", фан: {subject}" if subject else "") + "."
    parts = [about]
    if item is not None:
        parts.extend(_item_lines(item, level=level))
    parts.extend([f"Хонанда: {message.strip()}", TUTOR_LEVELS[level], language_line(language)])
    return Prompt(
        task="tutor_reply",
        messages=(
            ChatMessage("system", TUTOR_SYSTEM),
            *history,
            ChatMessage("user", _lines(*parts)),
        ),
        context=tuple(passages),
    )


TEACHER_CHAT_SYSTEM = (
    "Шумо Соро, ёрдамчии муаллим ҳастед. Ба саволҳо дар бораи барномаи таълимӣ ва дарсҳо "
    "кӯтоҳ ва дақиқ ҷавоб диҳед. Аз матнҳои китоб истифода баред ва рақами матнро дар қавс "
    "нависед, масалан [1]. Ба дархостҳои номуносиб бо эҳтиром ҷавоб надиҳед."
)


def teacher_chat(
    *,
    message: str,
    history: Sequence[ChatMessage] = (),
    language: str = "tg",
    passages: Sequence[str] = (),
) -> Prompt:
    """Soro's chat for teachers, grounded in the textbooks."""
    return Prompt(
        task="teacher_chat",
        messages=(
            ChatMessage("system", TEACHER_CHAT_SYSTEM),
            *history,
            ChatMessage("user", _lines(message.strip(), language_line(language))),
        ),
        context=tuple(passages),
    )


# --- grading against a rubric ---------------------------------------------------------------

GRADE_SYSTEM = (
    "Шумо ба муаллим дар санҷиши кори хаттӣ ёрӣ медиҳед. Ҷавоби хонандаро аз рӯи ҳар меъёр "
    "баҳо диҳед ва танҳо дар ин шакл нависед:\n"
    "Меъёр 1: хол\nМеъёр 2: хол\nШарҳ: як сарсухан барои хонанда."
)


@dataclass(frozen=True)
class RubricLevel:
    points: int
    descriptor: str


@dataclass(frozen=True)
class RubricCriterion:
    name: str
    levels: tuple[RubricLevel, ...]

    @property
    def max_points(self) -> int:
        return max((level.points for level in self.levels), default=0)


def grade_answer(
    *,
    question: str,
    criteria: Sequence[RubricCriterion],
    answer: str,
    model_answer: str = "",
    language: str = "tg",
) -> Prompt:
    """Score a written answer criterion by criterion, with feedback for the student.

    The reply is parsed by :func:`parse_grade_reply`.
    """
    rubric = [
        f"{number}. {criterion.name}: "
        + "; ".join(f"{level.points} — {level.descriptor.strip()}" for level in criterion.levels)
        for number, criterion in enumerate(criteria, 1)
    ]
    user = _lines(
        f"Савол: {question.strip()}",
        "Меъёрҳо:\n" + "\n".join(rubric),
        f"Ҷавоби намунавӣ: {model_answer.strip()}" if model_answer.strip() else "",
        f"Ҷавоби хонанда: {answer.strip()}",
        language_line(language),
    )
    return Prompt(
        task="grade_answer",
        messages=(ChatMessage("system", GRADE_SYSTEM), ChatMessage("user", user)),
    )


@dataclass(frozen=True)
class GradeReply:
    """A parsed grading reply: points per criterion (in rubric order) and the feedback."""

    points: tuple[float, ...]
    feedback: str


_CRITERION_LINE = re.compile(
    r"^\s*(?:Меъёр|Критерий|Criterion)\s*(\d+)\s*[:：.\-–—]\s*(\d+(?:[.,]\d+)?)", re.I | re.M
)
_FEEDBACK_LINE = re.compile(r"^\s*(?:Шарҳ|Комментарий|Feedback)\s*[:：]\s*(.+)", re.I | re.M | re.S)


def parse_grade_reply(text: str, criteria: Sequence[RubricCriterion]) -> GradeReply | None:
    """Read "Меъёр n: points" lines and the "Шарҳ:" feedback; None when the reply does not
    give a valid score for every criterion (then the answer goes to the teacher)."""
    found: dict[int, float] = {}
    for match in _CRITERION_LINE.finditer(text):
        number = int(match.group(1))
        found.setdefault(number, float(match.group(2).replace(",", ".")))
    points: list[float] = []
    for number, criterion in enumerate(criteria, 1):
        value = found.get(number)
        allowed = {level.points for level in criterion.levels}
        if value is None or value not in allowed:
            return None
        points.append(value)
    feedback_match = _FEEDBACK_LINE.search(text)
    feedback = feedback_match.group(1).strip() if feedback_match else ""
    return GradeReply(points=tuple(points), feedback=feedback)
