"""The platform's textbooks as corpus documents (registered in :mod:`tutoring.apps`).

Each current textbook edition's file is parsed again with the ingestion parser, one
document per page, rather than read back from its passages: passages are chunks cut for
retrieval with an overlap of ``SORO_PASSAGE_OVERLAP`` tokens, so joining them would repeat
text at every border. When the file is gone, the page's passages are joined instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from modelops.corpus import CorpusDocument


def textbook_documents() -> Iterator[CorpusDocument]:
    from tutoring.models import TextbookEdition
    from tutoring.retrieval.parsers import parse_file
    from tutoring.retrieval.types import IngestError

    editions = (
        TextbookEdition.objects.filter(is_current=True, status=TextbookEdition.Status.READY)
        .select_related("textbook")
        .order_by("textbook_id")
    )
    for edition in editions:
        textbook = edition.textbook
        prefix = f"textbook-{textbook.pk}/edition-{edition.pk}"
        pages: list[tuple[int, str]] = []
        if textbook.file:
            try:
                book = parse_file(textbook.file.path)
            except (IngestError, OSError, NotImplementedError):
                book = None
            if book is not None:
                pages = [
                    (page.number, "\n".join(block.text for block in page.blocks))
                    for page in book.pages
                ]
        if not pages:
            by_page: dict[int, list[str]] = {}
            for page, text in edition.passages.order_by("order").values_list("page", "text"):
                by_page.setdefault(page, []).append(text)
            pages = [(page, "\n".join(texts)) for page, texts in sorted(by_page.items())]
        for number, text in pages:
            if text.strip():
                yield CorpusDocument(id=f"{prefix}/page-{number}", text=text, source="textbooks")
