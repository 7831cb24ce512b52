"""The search page and API: results without a matching word are few and marked, nothing
similar enough gives a real empty state, snippets with "more", paging, the query kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.conftest import People, client_for
from tests.tutoring.test_services import BOOK, ingest
from tutoring.services import passages_search_page, snippet

LONG_BOOK = "---\ntitle: Китоби дароз\nsubject: math\ngrade: 7\n---\n<!-- page 1 -->\n" + "".join(
    f"## Боби {n}\nДар ин боб муодила ҳаст. "
    + " ".join(f"калима{n}x{k}" for k in range(60))
    + "\n\n"
    for n in range(1, 31)
)


@pytest.fixture
def index(settings, tmp_path: Path) -> Path:
    """Indexes and uploads in a temporary folder; the lexical half only unless a test turns
    the encoder on."""
    settings.SORO_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SORO_RETRIEVAL_ENCODER = "none"
    return settings.SORO_INDEX_DIR


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "history.md"
    path.write_text(BOOK, encoding="utf-8")
    return path


def test_a_word_that_occurs_gives_marked_results(people: People, index, book) -> None:  # type: ignore[no-untyped-def]
    ingest(book)
    outcome = passages_search_page(user=people.student, query="Рӯдакӣ")
    assert outcome.exact and outcome.results and outcome.results[0].lexical
    page = client_for(people.student).get("/search/", {"q": "Рӯдакӣ"}).content.decode()
    assert "<mark>Рӯдакӣ</mark>" in page
    assert "ҳеҷ порча ин калимаҳоро надорад" not in page.lower()


def test_nonsense_gives_the_empty_state_with_suggestions(people: People, index, book) -> None:  # type: ignore[no-untyped-def]
    ingest(book)  # lexical index only: nothing is close by meaning
    outcome = passages_search_page(user=people.student, query="qwertyzzz")
    assert not outcome.exact and outcome.results == []
    client = client_for(people.student)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/search/", {"q": "qwertyzzz"})
    text = page.content.decode()
    assert 'class="empty search-empty"' in text
    assert "Check the spelling" in text and "ғ, ӣ, қ, ӯ, ҳ, ҷ" in text
    assert 'class="results"' not in text


def test_meaning_only_results_are_at_most_three_and_marked(  # type: ignore[no-untyped-def]
    people: People, index, book, settings
) -> None:
    settings.SORO_RETRIEVAL_ENCODER = "use"
    ingest(book)
    # Measured (benchmarks/search_meaning_floor.py): a question sharing no word with the
    # book, about the poet, is close enough to the Rudaki passage; the rest are dropped.
    settings.SORO_RETRIEVAL_ENCODER = "use"
    outcome = passages_search_page(user=people.student, query="шоир дар куҷо ба дунё омад")
    assert not outcome.exact and 1 <= len(outcome.results) <= 3
    assert all(not r.lexical for r in outcome.results)
    assert outcome.results[0].passage.page == 2  # Рӯдакӣ
    client = client_for(people.student)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/search/", {"q": "шоир дар куҷо ба дунё омад"})
    text = page.content.decode()
    assert "No passage contains these words; the closest by meaning are:" in text
    assert text.count('class="nearby"') == len(outcome.results)
    # Nonsense stays below the floor even with the encoder.
    assert passages_search_page(user=people.student, query="qwertyzzz").results == []
    api = client_for(people.student).get("/api/search", {"q": "шоир дар куҷо ба дунё омад"}).json()
    assert 1 <= len(api) <= 3 and all(row["lexical"] is False for row in api)


def test_snippets_and_paging(people: People, index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "long.md"
    path.write_text(LONG_BOOK, encoding="utf-8")
    ingest(path, title="Китоби дароз")
    client = client_for(people.student)
    first = passages_search_page(user=people.student, query="муодила")
    assert first.exact and len(first.results) == 10 and first.has_next and not first.has_previous
    second = passages_search_page(user=people.student, query="муодила", page=2)
    assert second.page == 2 and second.first_number == 11 and second.has_previous
    assert {r.passage.pk for r in first.results}.isdisjoint(r.passage.pk for r in second.results)
    html = client.get("/search/", {"q": "муодила"}).content.decode()
    assert "page=2" in html and 'rel="next"' in html and "q=%D0%BC" in html
    assert html.count('class="snippet-more"') >= 1  # long passages are cut, "more" expands
    html2 = client.get("/search/", {"q": "муодила", "page": "2"}).content.decode()
    assert 'start="11"' in html2 and 'rel="prev"' in html2


def test_snippet_is_around_the_match_and_escaped() -> None:
    text = " ".join(f"w{i}" for i in range(100)) + " <b>Бухоро</b> " + "z " * 100
    html, more = snippet(text, ("бухоро",), size=20)
    assert more and "<mark>Бухоро</mark>" in html and "&lt;b&gt;" in html
    assert html.startswith("… ") and html.endswith(" …") and "w0 " not in html
    short, cut = snippet("Бухоро шаҳр", ("бухоро",))
    assert not cut and short == "<mark>Бухоро</mark> шаҳр"


@pytest.mark.parametrize("page", ["0", "abc", "99"])
def test_odd_page_numbers_are_clamped(people: People, index, book, page) -> None:  # type: ignore[no-untyped-def]
    ingest(book)
    response = client_for(people.student).get("/search/", {"q": "Бухоро", "page": page})
    assert response.status_code == 200 and "<mark>" in response.content.decode()
