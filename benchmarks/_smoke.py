"""What every benchmark's ``--smoke`` run shares: the tiny real model and a throw-away database.

``--smoke`` runs a benchmark's own code path on a tiny random-weight Gemma 3 with the real
tokenizer (:func:`modelops.llm.gemma.build_tiny_gemma3`, the model the tests use) and on tiny
data, in seconds, and still prints the benchmark's table: ``make benchmarks-smoke`` runs
every benchmark that way in CI, so a benchmark that no longer runs fails the build instead of
being found broken the day someone needs its figures. The figures of a smoke run mean
nothing (random weights, a few items); the full commands are in ``benchmarks/README.md``.

The tiny models are built once and cached under ``var/cache/bench-smoke`` (or
``$SORO_CACHE_DIR/bench-smoke``; the tokenizer comes from the packaged GGUF, itself cached
there). Benchmarks that need the
database get a new temporary ``SORO_VAR_DIR`` (SQLite, media, indexes, models), migrated and
seeded from the repository's demo files, and removed at exit: a fresh checkout after
``make install`` is all they need.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Under the same cache as the packaged model (``modelops.llm.gemma.default_cache_dir``).
CACHE_DIR = Path(os.environ.get("SORO_CACHE_DIR") or ROOT / "var" / "cache") / "bench-smoke"
#: Bump when the tiny models' shapes change, so that an old cached copy is not reused.
TINY_VERSION = "v1"
#: Settings that would point a smoke run at the developer's (or CI's) real data or servers.
_REAL_DATA_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SORO_LLM_URL",
    "SORO_MODELS_DIR",
    "SORO_INDEX_DIR",
    "SORO_BENCHMARKS_DIR",
    "SORO_CORPORA_DIR",
    "SORO_CORPUS_SOURCES_DIR",
)


def skipped(what: str, reason: str) -> None:
    """Say, in the benchmark's output, that a part of it did not run in this smoke run."""
    print(f"smoke: skipped {what}: {reason}", flush=True)


def tiny_model_dir(*, wide: bool = False) -> Path:
    """A tiny random-weight Gemma 3 with the real tokenizer and chat template (cached).

    64 wide by default, as in the tests; ``wide=True`` gives one 128 wide with a 384-wide
    MLP, the smallest that INT4's groups of 128 columns can quantize.
    """
    from modelops.llm import gemma

    gguf_dir, gguf_file = gemma.locate_packaged_gguf()
    tokenizer_dir = gemma.cached_gguf_tokenizer(gguf_dir / gguf_file)
    width = 128 if wide else 64
    directory = CACHE_DIR / f"tiny-gemma3-{width}-{TINY_VERSION}-{tokenizer_dir.name}"
    if (directory / "config.json").is_file():
        return directory
    if wide:
        return gemma.build_tiny_gemma3(
            directory, tokenizer_dir, hidden_size=128, intermediate_size=384, head_dim=64
        )
    return gemma.build_tiny_gemma3(directory, tokenizer_dir)


def use_throwaway_var_dir(name: str) -> Path:
    """Point ``SORO_VAR_DIR`` at a new temporary directory, removed at exit.

    Call it before ``django.setup()`` (settings read the environment once). Variables that
    would lead elsewhere (a PostgreSQL ``DATABASE_URL``, a broker, a model server, other data
    folders) are dropped for this process and the processes it starts; ``SORO_CACHE_DIR``
    stays, so the packaged model is not assembled again.
    """
    directory = Path(tempfile.mkdtemp(prefix=f"soro-smoke-{name}-"))
    (directory / "static").mkdir()  # STATIC_ROOT: no collectstatic, but no warning either
    os.environ["SORO_VAR_DIR"] = str(directory)
    for variable in _REAL_DATA_VARIABLES:
        os.environ.pop(variable, None)
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def prepare_database(
    *, textbooks: Sequence[str] = (), model: bool = True, static_files: bool = False
) -> None:
    """Fill the throw-away database as ``make setup`` would, with the tiny model.

    After ``django.setup()``: migrate, import the demo curriculum, seed the demo school and
    people, ingest the named demo textbooks (file names under ``tutoring/data/textbooks``),
    with ``model`` register the tiny model as the active version, and with ``static_files``
    collect the static files (pages rendered by a server without DEBUG need their manifest).
    """
    from django.conf import settings
    from django.core.management import call_command

    quiet = io.StringIO()  # the commands' reports (seed_demo lists every person) are not needed
    call_command("migrate", interactive=False, verbosity=0, stdout=quiet)
    call_command("import_curriculum", verbosity=0, stdout=quiet)
    call_command("seed_demo", verbosity=0, stdout=quiet)
    if static_files:
        call_command("collectstatic", interactive=False, verbosity=0, stdout=quiet)
    if textbooks:
        from soro_web.curriculum.models import Grade, Subject
        from tutoring.services import demo_textbooks, textbook_ingest_run, textbook_register_file

        books = {path.name: (path, meta) for path, meta in demo_textbooks()}
        for file_name in textbooks:
            path, meta = books[file_name]
            edition = textbook_register_file(
                path=path,
                title=meta.get("title") or path.stem,
                subject=Subject.objects.get(code=meta["subject"]),
                grade=Grade.objects.get(number=int(meta["grade"])),
                enqueue=False,
            )
            if edition is None:
                raise RuntimeError(f"{file_name} was not registered")
            textbook_ingest_run(edition_id=edition.pk)
            edition.refresh_from_db()
            if edition.status != "ready":
                raise RuntimeError(f"{file_name} did not ingest: {edition.status}")
    if model:
        from modelops.models import ModelVersion

        name = "tiny-smoke"
        shutil.copytree(tiny_model_dir(), Path(settings.SORO_MODELS_DIR) / name)
        ModelVersion.objects.create(
            name=name, stage=ModelVersion.Stage.BASE, path=name, is_active=True
        )
