"""Grading an assignment in the background: "grade all" queues a job on the grading queue; a
worker claims it, grades the answers in chunks (one transaction each, progress counted as it
goes), keeps a heartbeat, and a worker that dies is replaced by the sweep (soro_web/jobs.py).

Each answer's grade is written once, keyed by (answer, rubric version, grader version): a
job run again after its worker was killed skips what the killed run already wrote, which is
what makes ``acks_late`` and ``reject_on_worker_lost`` safe on the task.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from modelops.llm.types import GenerationParams, ModelUnavailable, TextModelClient
from modelops.prompts import RubricCriterion, RubricLevel, grade_answer, parse_grade_reply
from modelops.services import active_model_client, generation_stream, model_error_message
from soro_web.grading import scoring
from soro_web.grading.models import (
    Answer,
    Assignment,
    AuditEntry,
    Grade,
    GradingJob,
    Question,
    Rubric,
)
from soro_web.jobs import RECOVERED_NOTE, heartbeat, new_owner

if TYPE_CHECKING:
    from soro_web.accounts.models import User

logger = logging.getLogger(__name__)

#: Grader versions: a change in how answers are scored gets a new one, so grades made the
#: old way are kept beside the new ones instead of being overwritten.
EXACT_GRADER = "exact-1"
RUBRIC_GRADER = "rubric-1"
ACTIVE = (GradingJob.Status.QUEUED, GradingJob.Status.RUNNING)
#: Language ID must be at least this sure of another language to send an answer to review.
LANGUAGE_CONFIDENCE = 0.6


def criteria_of(rubric: Rubric) -> list[RubricCriterion]:
    """A stored rubric as the prompt builder's criteria."""
    return [
        RubricCriterion(
            name=criterion["name"],
            levels=tuple(
                RubricLevel(points=int(level["points"]), descriptor=level["descriptor"])
                for level in criterion["levels"]
            ),
        )
        for criterion in rubric.criteria
    ]


def prompt_checksum(messages: list[Any]) -> str:
    """The SHA-256 of the chat as sent to the model (every message's role and text)."""
    payload = json.dumps(
        [{"role": m.role, "content": m.content} for m in messages], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- grading one answer ---------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerIn:
    """What grading reads of an answer (no model instance: the batch loop is hot)."""

    pk: int
    question_id: int
    text: str


@dataclass
class Draft:
    """A grade before it is written."""

    answer_id: int
    rubric_version: int
    grader_version: str
    status: str
    scores: list[float]
    max_total: float
    feedback: str = ""
    agreement: float | None = None
    reasons: list[str] = field(default_factory=list)
    error: str = ""
    model_version: str = ""
    prompt_checksum: str = ""

    @property
    def total(self) -> float:
        return scoring.total(self.scores)


class Grader:
    """Grades the answers of one assignment: exact questions directly, open ones with the
    model (k samples). The model client and the copied-answer map are made once per run."""

    def __init__(self, assignment: Assignment, *, samples: int) -> None:
        self.assignment = assignment
        self.samples = samples
        self.rubrics: dict[int, Rubric | None] = {}
        self.copies: dict[int, dict[int, list[int]]] = {}
        self.questions = {q.pk: q for q in assignment.questions.all()}
        self._client: TextModelClient | None = None
        self._client_error: ModelUnavailable | None = None
        self._client_tried = False

    # The model is loaded only when an open answer needs it.
    def client(self) -> TextModelClient | None:
        if not self._client_tried:
            self._client_tried = True
            try:
                self._client = active_model_client()
            except ModelUnavailable as error:
                self._client_error = error
        return self._client

    def model_grader_version(self) -> str:
        client = self.client()
        name = client.name if client is not None else "unavailable"
        return f"{RUBRIC_GRADER}:{name}:k{self.samples}"

    def rubric(self, question: Question) -> Rubric | None:
        if question.pk not in self.rubrics:
            self.rubrics[question.pk] = question.rubrics.order_by("-version").first()
        return self.rubrics[question.pk]

    def copied_from(self, answer: AnswerIn) -> list[int]:
        if answer.question_id not in self.copies:
            texts = dict(
                Answer.objects.filter(question_id=answer.question_id).values_list("pk", "text")
            )
            self.copies[answer.question_id] = scoring.near_duplicates(
                texts, threshold=settings.SORO_GRADING_COPY_SIMILARITY
            )
        return self.copies[answer.question_id].get(answer.pk, [])

    def grade(self, answer: AnswerIn) -> Draft:
        question = self.questions.get(answer.question_id)
        if question is None:  # added after the job started
            question = Question.objects.get(pk=answer.question_id)
            self.questions[question.pk] = question
        if question.is_exact:
            return self.grade_exact(answer, question)
        return self.grade_open(answer, question)

    def grade_exact(self, answer: AnswerIn, question: Question) -> Draft:
        right = scoring.exact_match(answer.text, question.expected_answer)
        draft = Draft(
            answer_id=answer.pk,
            rubric_version=0,
            grader_version=EXACT_GRADER,
            status=Grade.Status.GRADED,
            scores=[float(question.points) if right else 0.0],
            max_total=float(question.points),
            agreement=1.0,
        )
        if not answer.text.strip():
            draft.status, draft.reasons = Grade.Status.REVIEW, [Grade.Reason.EMPTY]
        return draft

    def grade_open(self, answer: AnswerIn, question: Question) -> Draft:
        rubric = self.rubric(question)
        if rubric is None:  # an open question always gets a rubric; this is a safety net
            return Draft(
                answer_id=answer.pk,
                rubric_version=0,
                grader_version=self.model_grader_version(),
                status=Grade.Status.FAILED,
                scores=[],
                max_total=0.0,
                error="the question has no rubric",
            )
        criteria = criteria_of(rubric)
        lowest = [float(min(level.points for level in c.levels)) for c in criteria]
        draft = Draft(
            answer_id=answer.pk,
            rubric_version=rubric.version,
            grader_version=self.model_grader_version(),
            status=Grade.Status.REVIEW,
            scores=lowest,
            max_total=float(sum(c.max_points for c in criteria)),
        )
        text = answer.text.strip()
        if not text:
            draft.reasons = [Grade.Reason.EMPTY]
            return draft
        if not _is_tajik(text):
            draft.reasons.append(Grade.Reason.NOT_TAJIK)
        if self.copied_from(answer):
            draft.reasons.append(Grade.Reason.COPIED)
        prompt = grade_answer(
            question=question.text,
            criteria=criteria,
            answer=text,
            model_answer=question.model_answer,
        )
        messages = prompt.planned_messages()
        draft.prompt_checksum = prompt_checksum(messages)
        client = self.client()
        if client is None:
            draft.status = Grade.Status.FAILED
            draft.error = str(self._client_error or "no model")
            return draft
        draft.model_version = client.name
        replies: list[str] = []
        for _sample in range(self.samples):
            try:
                replies.append(self._generate(client, prompt))
            except ModelUnavailable as error:
                draft.status, draft.error = Grade.Status.FAILED, model_error_message(error)
                return draft
        parsed = [parse_grade_reply(reply, criteria) for reply in replies]
        agreed = scoring.consensus(
            [list(p.points) if p is not None else None for p in parsed], len(criteria)
        )
        if agreed is None:
            draft.reasons.append(Grade.Reason.UNPARSEABLE)
            draft.agreement = 0.0
            return _settle(draft)
        chosen = parsed[agreed.chosen]
        draft.scores = list(agreed.points)
        draft.agreement = round(agreed.agreement, 3)
        draft.feedback = chosen.feedback if chosen is not None else ""
        if draft.agreement < settings.SORO_GRADING_MIN_AGREEMENT:
            draft.reasons.append(Grade.Reason.LOW_AGREEMENT)
        if draft.feedback and not _is_tajik(draft.feedback):
            draft.reasons.append(Grade.Reason.FEEDBACK_LANGUAGE)
        return _settle(draft)

    def _generate(self, client: TextModelClient, prompt: Any) -> str:
        pieces: list[str] = []
        for event in generation_stream(
            messages=prompt.messages,
            params=GenerationParams(
                max_new_tokens=settings.SORO_GRADING_MAX_NEW_TOKENS,
                temperature=0.7 if self.samples > 1 else 0.0,
                timeout_s=settings.SORO_LLM_TIMEOUT,
            ),
            purpose="grading",
            context=prompt.context,
            client=client,
        ):
            if event["type"] == "text":
                pieces.append(event["text"])
            elif event["type"] == "error":
                raise ModelUnavailable(event["reason"], event["message"])
        return "".join(pieces)


def _settle(draft: Draft) -> Draft:
    draft.status = Grade.Status.REVIEW if draft.reasons else Grade.Status.GRADED
    return draft


def _is_tajik(text: str) -> bool:
    from modelops.llm.langid import detect_language

    try:
        language, confidence = detect_language(text)
    except Exception:  # language ID must never stop grading; the teacher sees the answer
        logger.exception("language identification failed")
        return False
    return scoring.looks_tajik(text, language, confidence, min_confidence=LANGUAGE_CONFIDENCE)


# --- which answers still need a grade -------------------------------------------------------


def answers_pending(assignment: Assignment) -> QuerySet[Answer]:
    """Answers with no current grade, or one made with an older rubric than the question's
    current one."""
    current_version = Subquery(
        Rubric.objects.filter(question=OuterRef("question"))
        .order_by("-version")
        .values("version")[:1]
    )
    graded_version = Subquery(
        Grade.objects.filter(answer=OuterRef("pk"), is_current=True).values("rubric_version")[:1]
    )
    return (
        Answer.objects.filter(assignment=assignment)
        .annotate(rubric_now=Coalesce(current_version, Value(0)), rubric_graded=graded_version)
        .filter(Q(rubric_graded__isnull=True) | Q(rubric_graded__lt=F("rubric_now")))
        .order_by("pk")
    )


def grades_write(drafts: list[Draft], *, job: GradingJob | None) -> list[Grade]:
    """Write the drafts whose key has no grade yet (inside the caller's transaction); the
    previous grade of each answer stops being current. Returns the grades written."""
    if not drafts:
        return []
    keys = {(d.answer_id, d.rubric_version, d.grader_version) for d in drafts}
    taken = set(
        Grade.objects.filter(answer_id__in={d.answer_id for d in drafts}).values_list(
            "answer_id", "rubric_version", "grader_version"
        )
    )
    fresh = [d for d in drafts if (d.answer_id, d.rubric_version, d.grader_version) not in taken]
    if len(keys) != len(drafts):
        raise ValueError("two drafts for the same grade key")
    Grade.objects.filter(answer_id__in=[d.answer_id for d in fresh], is_current=True).update(
        is_current=False
    )
    return Grade.objects.bulk_create(
        [
            Grade(
                answer_id=d.answer_id,
                rubric_version=d.rubric_version,
                grader_version=d.grader_version,
                is_current=True,
                status=d.status,
                scores=d.scores,
                total=d.total,
                max_total=d.max_total,
                feedback=d.feedback,
                agreement=d.agreement,
                review_reasons=[str(r) for r in d.reasons],
                error=d.error,
                model_version=d.model_version,
                prompt_checksum=d.prompt_checksum,
                job_id=job.pk if job else None,
            )
            for d in fresh
        ]
    )


# --- the job ----------------------------------------------------------------------------------


def grading_job_start(*, assignment: Assignment, user: User | None = None) -> GradingJob:
    """Queue "grade all" for the assignment. Refused while a job of the assignment is queued
    or running, when it is released, or when there is nothing to grade."""
    if assignment.is_released:
        raise ValidationError(_("The grades of this assignment are released; it is closed."))
    with transaction.atomic():
        if GradingJob.objects.filter(assignment=assignment, status__in=ACTIVE).exists():
            raise ValidationError(
                _("Grading of this assignment is already under way. Wait for it or cancel it.")
            )
        pending = answers_pending(assignment).count()
        if not pending:
            raise ValidationError(_("Every answer already has a grade. Nothing to grade."))
        try:
            with transaction.atomic():
                job = GradingJob.objects.create(
                    assignment=assignment,
                    total=pending,
                    samples=settings.SORO_GRADING_SAMPLES,
                    started_by=user if getattr(user, "is_authenticated", False) else None,
                    sent_at=timezone.now(),
                )
        except IntegrityError:  # another request started one at the same moment
            raise ValidationError(
                _("Grading of this assignment is already under way. Wait for it or cancel it.")
            ) from None
        _send(job.pk)
    return job


def _send(job_id: int) -> None:
    from soro_web.grading import tasks

    tasks.grade_assignment.delay_on_commit(job_id)


def grading_job_cancel(*, job: GradingJob) -> str:
    """Cancel a queued job at once, or ask a running one to stop after its chunk. Grades
    already written stay. Returns the job's status afterwards."""
    if GradingJob.objects.filter(pk=job.pk, status=GradingJob.Status.QUEUED).update(
        status=GradingJob.Status.CANCELLED, finished_at=timezone.now()
    ):
        return GradingJob.Status.CANCELLED
    GradingJob.objects.filter(pk=job.pk, status=GradingJob.Status.RUNNING).update(
        is_cancel_requested=True
    )
    job.refresh_from_db()
    return job.status


def grading_retry_failed(*, assignment: Assignment, user: User | None = None) -> GradingJob:
    """Grade again the answers whose grading failed (the model was unavailable): their failed
    grades are set aside (kept, not current) and a new job is queued."""
    with transaction.atomic():
        failed = Grade.objects.filter(
            answer__assignment=assignment, is_current=True, status=Grade.Status.FAILED
        )
        count = failed.count()
        if not count:
            raise ValidationError(_("No answer failed to grade."))
        if GradingJob.objects.filter(assignment=assignment, status__in=ACTIVE).exists():
            raise ValidationError(
                _("Grading of this assignment is already under way. Wait for it or cancel it.")
            )
        # The failed grade keeps its key; the retry writes under a fresh grader version.
        failed_rows = list(failed.values("pk", "grader_version"))
        failed.update(is_current=False)
        AuditEntry.objects.create(
            assignment=assignment,
            actor=user if getattr(user, "is_authenticated", False) else None,
            action=AuditEntry.Action.RETRY,
            before={"failed": count},
            after={"grades": [row["pk"] for row in failed_rows]},
        )
        return grading_job_start(assignment=assignment, user=user)


def _mine(job_id: int, owner: str) -> QuerySet[GradingJob]:
    return GradingJob.objects.filter(pk=job_id, status=GradingJob.Status.RUNNING, owner=owner)


def grading_job_execute(*, job_id: int) -> None:
    """Run a queued grading job. Idempotent: the job is claimed with a conditional update
    (a second delivery does nothing), and each grade is written once per key."""
    owner, now = new_owner(), timezone.now()
    claimed = GradingJob.objects.filter(pk=job_id, status=GradingJob.Status.QUEUED).update(
        status=GradingJob.Status.RUNNING, owner=owner, heartbeat_at=now, started_at=now
    )
    if not claimed:
        return
    job = GradingJob.objects.select_related("assignment").get(pk=job_id)
    with heartbeat(lambda: _mine(job_id, owner).update(heartbeat_at=timezone.now())) as beat:
        try:
            _grade_in_chunks(job, owner, lambda: beat.lost)
        except Exception as error:  # recorded on the job; the worker stays up
            logger.exception("grading job %s failed", job_id)
            _mine(job_id, owner).update(
                status=GradingJob.Status.FAILED, error=str(error), finished_at=timezone.now()
            )


def _grade_in_chunks(job: GradingJob, owner: str, lost: Any) -> None:
    grader = Grader(job.assignment, samples=job.samples)
    chunk = settings.SORO_GRADING_CHUNK
    after = 0
    while True:
        if lost():
            return
        if (
            _mine(job.pk, owner)
            .filter(is_cancel_requested=True)
            .update(status=GradingJob.Status.CANCELLED, finished_at=timezone.now())
        ):
            return
        answers = [
            AnswerIn(*row)
            for row in answers_pending(job.assignment)
            .filter(pk__gt=after)
            .values_list("pk", "question_id", "text")[:chunk]
        ]
        if not answers:
            break
        after = answers[-1].pk
        drafts = [grader.grade(answer) for answer in answers]
        _avoid_retired_keys(drafts)
        with transaction.atomic():
            # Only the owner writes: a run that lost its claim leaves the rows alone.
            if not _mine(job.pk, owner).select_for_update().exists():
                return
            written = grades_write(drafts, job=job)
            counts = dict.fromkeys(Grade.Status.values, 0)
            for grade in written:
                counts[grade.status] += 1
            _mine(job.pk, owner).update(
                graded=F("graded") + counts[Grade.Status.GRADED],
                review=F("review") + counts[Grade.Status.REVIEW],
                failed=F("failed") + counts[Grade.Status.FAILED],
            )
    _mine(job.pk, owner).update(status=GradingJob.Status.SUCCEEDED, finished_at=timezone.now())


def _avoid_retired_keys(drafts: list[Draft]) -> None:
    """A retried answer's failed grade still holds its key (kept for the record): the retry
    writes under the grader version with a ``+retry-n`` suffix."""
    retired = set(
        Grade.objects.filter(
            answer_id__in=[d.answer_id for d in drafts], is_current=False
        ).values_list("answer_id", "rubric_version", "grader_version")
    )
    for draft in drafts:
        base, attempt = draft.grader_version, 1
        while (draft.answer_id, draft.rubric_version, draft.grader_version) in retired:
            attempt += 1
            draft.grader_version = f"{base}+retry-{attempt}"


def grading_job_sweep(stale_before: datetime, resend_before: datetime) -> list[int]:
    """Queue again the jobs whose worker died and the queued ones whose message may have been
    lost. Registered with :mod:`soro_web.jobs` by the app."""
    now = timezone.now()
    with transaction.atomic():
        dead = list(
            GradingJob.objects.filter(
                status=GradingJob.Status.RUNNING, heartbeat_at__lt=stale_before
            ).values_list("pk", flat=True)
        )
        for job in GradingJob.objects.filter(pk__in=dead):
            GradingJob.objects.filter(
                pk=job.pk, status=GradingJob.Status.RUNNING, heartbeat_at__lt=stale_before
            ).update(
                status=GradingJob.Status.QUEUED,
                owner="",
                sent_at=now,
                recoveries=F("recoveries") + 1,
                log=(f"{job.log}\n" if job.log else "") + f"{now:%Y-%m-%d %H:%M} {RECOVERED_NOTE}",
            )
        waiting = list(
            GradingJob.objects.filter(status=GradingJob.Status.QUEUED)
            .filter(Q(sent_at__lt=resend_before) | Q(sent_at__isnull=True))
            .exclude(pk__in=dead)
            .values_list("pk", flat=True)
        )
        GradingJob.objects.filter(pk__in=waiting).update(sent_at=now)
        for job_id in [*dead, *waiting]:
            _send(job_id)
    return [*dead, *waiting]


def grading_job_latest(*, assignment: Assignment) -> GradingJob | None:
    return assignment.jobs.order_by("-created_at").first()
