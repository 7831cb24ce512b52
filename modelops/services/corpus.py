"""Building a Tajik corpus and registering it: the Django side of :mod:`modelops.corpus`.

Sources are files and folders, plus *providers*: callables that yield the platform's own
text. ``modelops`` must not import ``tutoring`` (it is the same layer), so the textbooks
come through :func:`register_corpus_source`, which ``tutoring`` calls in its app's
``ready()``; the curriculum (a lower layer) is read here directly.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils.translation import gettext as _

from modelops.corpus import (
    BuildOptions,
    BuildRequest,
    CorpusBuildError,
    CorpusDocument,
    SourceSpec,
    build,
    discard_work,
)
from modelops.models import Corpus, ModelRun

logger = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
CorpusProvider = Callable[[], Iterable[CorpusDocument]]
BUNDLED_BENCHMARKS = Path(__file__).resolve().parents[1] / "data" / "benchmarks"

_PROVIDERS: dict[str, CorpusProvider] = {}


def register_corpus_source(name: str, provider: CorpusProvider) -> None:
    """Make ``provider`` available to builds as the source ``name`` (``--textbooks`` uses
    "textbooks"). Registering a name again replaces the provider."""
    _PROVIDERS[name] = provider


def corpus_sources() -> dict[str, CorpusProvider]:
    return dict(_PROVIDERS)


def curriculum_documents() -> Iterator[CorpusDocument]:
    """One document per subject: its units and topics by grade, in Tajik."""
    from soro_web.curriculum.models import Subject, Topic

    for subject in Subject.objects.order_by("order", "code"):
        topics = list(
            Topic.objects.filter(subject=subject)
            .select_related("grade", "parent")
            .order_by("grade__number", "order", "code")
        )
        lines = [f"{subject.name}."]
        for unit in (topic for topic in topics if topic.parent_id is None):
            children = [topic.name for topic in topics if topic.parent_id == unit.pk]
            line = f"{unit.grade.name}. {unit.name}"
            lines.append(line + (": " + "; ".join(children) + "." if children else "."))
        if len(lines) > 1:
            yield CorpusDocument(
                id=f"subject-{subject.code}", text="\n".join(lines), source="curriculum"
            )


def benchmark_paths() -> list[str]:
    """Every benchmark decontamination checks against: the bundled suites and whatever is
    in ``SORO_BENCHMARKS_DIR`` (JSONL files and ``datasets`` folders)."""
    paths = sorted(str(path) for path in BUNDLED_BENCHMARKS.glob("*.jsonl"))
    directory = Path(settings.SORO_BENCHMARKS_DIR)
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.suffix == ".jsonl" or (path.is_dir() and not path.name.startswith(".")):
                paths.append(str(path))
    return paths


def _tokenizer_file() -> str:
    from modelops.llm import gemma
    from modelops.llm.types import ModelUnavailable

    try:
        directory, file_name = gemma.locate_packaged_gguf()
        return str(gemma.cached_gguf_tokenizer(directory / file_name) / "tokenizer.json")
    except ModelUnavailable as error:
        raise CorpusBuildError(
            "tokenizer", f"The Gemma tokenizer (to count tokens) is unavailable: {error}"
        ) from error


def _source_name(path: Path, taken: set[str]) -> str:
    base = re.sub(r"[^\w-]+", "-", path.name or "source", flags=re.ASCII).strip("-") or "source"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    taken.add(name)
    return name


def corpus_build_check(*, name: str, resume: bool) -> None:
    """Raise ValidationError when ``name`` is not a slug or a corpus of that name exists."""
    try:
        validate_slug(name)
    except ValidationError:
        raise ValidationError(
            _("%(name)r is not a valid corpus name: use letters, digits, - and _.")
            % {"name": name},
            code="name",
        ) from None
    if Corpus.objects.filter(name=name).exists():
        raise ValidationError(
            _("A corpus called %(name)s exists already; choose another name.") % {"name": name},
            code="exists",
        )


def corpus_build(
    *,
    name: str,
    sources: Sequence[str | Path],
    textbooks: bool = False,
    curriculum: bool = False,
    packaged: bool = False,
    resume: bool = False,
    text_field: str = "text",
    progress: Progress | None = None,
    cancel_check: Callable[[], bool] | None = None,
    run: ModelRun | None = None,
    options: BuildOptions | None = None,
    workers: int = 1,
) -> Corpus:
    """Build the corpus ``name`` from ``sources`` (files or folders) and the platform's
    text, and register it.

    ``textbooks``: every current textbook edition (the "textbooks" provider); ``curriculum``:
    the curriculum's subjects, units and topics; ``packaged``: the Tajik text of installed
    packages (:mod:`modelops.corpus.packaged`). ``resume`` continues an unfinished build
    with the same arguments. ``progress(stage, fraction)`` is called as work goes on, and
    ``cancel_check()`` returning True stops the build (finished shards are kept). Plain
    arguments only, so a Celery task can call it with ``run`` for progress in the admin.

    Raises ValidationError (bad name, taken name, unknown provider), CorpusBuildError
    (no Tajik text, changed arguments on resume, disk full, …) and BuildCancelled; the
    corpus is registered only when the build finished."""
    from modelops.corpus.packaged import packaged_sources

    corpus_build_check(name=name, resume=resume)
    taken: set[str] = {"textbooks", "curriculum"}
    specs: list[SourceSpec] = []
    for source in sources:
        path = Path(source).expanduser().resolve()
        specs.append(
            SourceSpec(name=_source_name(path, taken), path=str(path), text_field=text_field)
        )
    notes: list[str] = []
    if packaged:
        found, notes = packaged_sources(Path(settings.SORO_CORPUS_SOURCES_DIR))
        specs += found
    providers: dict[str, CorpusProvider] = {}
    if textbooks:
        if "textbooks" not in _PROVIDERS:
            raise ValidationError(
                _("No textbook source is registered (is the tutoring app installed?)."),
                code="no_provider",
            )
        providers["textbooks"] = _PROVIDERS["textbooks"]
    if curriculum:
        providers["curriculum"] = curriculum_documents
    for note in notes:
        logger.info("corpus %s: %s", name, note)
    request = BuildRequest(
        name=name,
        corpora_dir=Path(settings.SORO_CORPORA_DIR),
        sources=specs,
        tokenizer_file=_tokenizer_file(),
        benchmark_paths=benchmark_paths(),
        providers=providers,
        options=options or BuildOptions(),
        workers=workers,
    )
    report = _progress_reporter(run, progress)
    result = build(
        request, resume=resume, progress=report, cancelled=_cancel_checker(run, cancel_check)
    )
    counts: dict[str, Any] = {
        "sources": result.datasheet["sources"],
        "splits": result.datasheet["splits"],
        "steps": result.datasheet["steps"],
        "packaged_missing": notes,
    }
    with transaction.atomic():
        corpus = Corpus.objects.create(
            name=name,
            sources=result.sources,
            counts=counts,
            documents=result.documents,
            words=result.words,
            tokens=result.tokens,
            checksum=result.checksum,
            datasheet=result.datasheet,
            path=name,
            run=run,
        )
    discard_work(request)
    return corpus


def _progress_reporter(run: ModelRun | None, progress: Progress | None) -> Progress:
    last = [0.0]

    def report(stage: str, fraction: float) -> None:
        if run is not None and (time.monotonic() - last[0] > 1.0 or fraction >= 1.0):
            last[0] = time.monotonic()
            ModelRun.objects.filter(pk=run.pk).update(progress=fraction, stage=stage[:200])
        if progress is not None:
            progress(stage, fraction)

    return report


def _cancel_checker(
    run: ModelRun | None, cancel_check: Callable[[], bool] | None
) -> Callable[[], bool]:
    last = [0.0, False]

    def cancelled() -> bool:
        if cancel_check is not None and cancel_check():
            return True
        if run is None:
            return False
        # The admin's cancel flag is read at most every two seconds, not per document.
        if time.monotonic() - float(last[0]) > 2.0:
            last[0] = time.monotonic()
            last[1] = ModelRun.objects.filter(pk=run.pk, is_cancel_requested=True).exists()
        return bool(last[1])

    return cancelled
