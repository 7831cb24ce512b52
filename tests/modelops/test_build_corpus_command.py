"""``manage.py build_corpus`` end to end on a small folder, the platform's text, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.utils import translation

from modelops.models import Corpus
from modelops.services.corpus import corpus_sources
from tests.factories import GradeFactory, SubjectFactory
from tests.modelops.test_corpus import RUSSIAN, make_sources

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpora(settings, tmp_path: Path, tokenizer_dir: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.SORO_CORPORA_DIR = tmp_path / "corpora"
    # A benchmark an administrator put on disk: decontamination checks it too.
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    item = {
        "id": "local-1",
        "question": "Кадом дарё аз шаҳри Душанбе мегузарад ва ба Кофарниҳон мерезад?",
        "choices": ["Варзоб", "Вахш", "Панҷ", "Зарафшон"],
        "answer": 0,
    }
    (benchmarks / "local.jsonl").write_text(json.dumps(item, ensure_ascii=False) + "\n")
    settings.SORO_BENCHMARKS_DIR = benchmarks
    return tmp_path / "corpora"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # The command's messages are checked in English (the site's default language is Tajik).
    with translation.override("en"):
        yield


def test_the_command_builds_registers_and_prints_the_datasheet(
    corpora: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tutoring.models import Passage, Textbook, TextbookEdition

    sources = make_sources(tmp_path)
    (sources / "local-quiz.md").write_text(
        (sources / "page-05.md").read_text()
        + "\nСавол: Кадом дарё аз шаҳри Душанбе мегузарад ва ба Кофарниҳон мерезад? Варзоб.",
        encoding="utf-8",
    )
    call_command("import_curriculum")
    # An ingested textbook whose file is gone: its passages stand in for it, page by page.
    textbook = Textbook.objects.create(
        title="Таърих", subject=SubjectFactory(), grade=GradeFactory(number=12)
    )
    edition = TextbookEdition.objects.create(textbook=textbook, status="ready", is_current=True)
    page_text = (sources / "page-07.md").read_text()
    for order, page in enumerate((1, 1, 2)):
        Passage.objects.create(
            edition=edition, textbook=textbook, page=page, order=order, text=f"{page_text} {order}"
        )
    assert "textbooks" in corpus_sources()

    call_command(
        "build_corpus", "small", str(sources), "--textbooks", "--curriculum", "--text-field", "body"
    )
    out = capsys.readouterr().out
    corpus = Corpus.objects.get(name="small")
    assert corpus.directory == corpora / "small"
    assert (corpus.directory / "datasheet.md").is_file()
    assert not (corpora / ".work" / "small").exists()
    assert f"Built small in {corpora / 'small'}" in out
    assert f"Corpus small: {corpus.documents:,} documents" in out
    by_source = {row["name"]: row for row in corpus.datasheet["sources"]}
    assert set(by_source) == {"src", "curriculum", "textbooks"}
    assert by_source["src"]["documents"] == 24  # the quiz of the local benchmark is gone
    assert by_source["textbooks"]["documents_read"] == 2  # pages 1 and 2
    assert by_source["curriculum"]["documents"] >= 1
    steps = {step["step"]: step for step in corpus.datasheet["steps"]}
    assert steps["benchmark decontamination"]["notes"] == {
        "contaminated_local": 1,
        "contaminated_tajik_suite": 1,
    }
    assert corpus.documents == sum(row["documents"] for row in by_source.values())
    assert corpus.tokens == corpus.datasheet["totals"]["tokens"] > corpus.words > 0
    assert len(corpus.checksum) == 64
    for line in ("source", "benchmark decontamination", "near duplicates (MinHash)"):
        assert line in out

    with pytest.raises(CommandError, match="A corpus called small exists already"):
        call_command("build_corpus", "small", str(sources))


def test_a_folder_without_tajik_is_refused_and_nothing_registered(
    corpora: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "russian"
    folder.mkdir()
    (folder / "news.txt").write_text(RUSSIAN, encoding="utf-8")
    with pytest.raises(CommandError, match=r"No Tajik text found in .*nothing was built"):
        call_command("build_corpus", "ru", str(folder))
    assert not Corpus.objects.exists()
    assert not (corpora / "ru").exists()


def test_bad_arguments_are_refused(corpora: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("build_corpus", "x", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="Give at least one SOURCE"):
        call_command("build_corpus", "x")
    with pytest.raises(CommandError, match="not a valid corpus name"):
        call_command("build_corpus", "a b", str(tmp_path))


def test_textbook_documents_reparse_the_file_page_by_page(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from tutoring.corpus_source import textbook_documents
    from tutoring.models import Textbook, TextbookEdition

    settings.MEDIA_ROOT = tmp_path / "media"
    textbook = Textbook.objects.create(
        title="Китоб", subject=SubjectFactory(), grade=GradeFactory(number=13)
    )
    textbook.file.save(
        "book.md",
        ContentFile(
            "<!-- page 1 -->\n# Сарлавҳа\n\nМатни саҳифаи якум.\n"
            "<!-- page 2 -->\nМатни дуюм.\n".encode()
        ),
    )
    edition = TextbookEdition.objects.create(textbook=textbook, status="ready", is_current=True)
    TextbookEdition.objects.create(textbook=textbook, status="ready", is_current=False)
    documents = list(textbook_documents())
    assert [(document.id, document.text) for document in documents] == [
        (f"textbook-{textbook.pk}/edition-{edition.pk}/page-1", "Сарлавҳа\nМатни саҳифаи якум."),
        (f"textbook-{textbook.pk}/edition-{edition.pk}/page-2", "Матни дуюм."),
    ]
