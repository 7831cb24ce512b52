"""Where to put the search page's floor for results found by meaning only.

    .venv/bin/python benchmarks/search_meaning_floor.py
    .venv/bin/python benchmarks/search_meaning_floor.py --smoke   # one book, two queries

Indexes the six demo textbooks (``tutoring/data/textbooks/*.md``) as one shard per book with
the default encoder, then, for a few nonsense queries and a few real questions that share no
word with the books' text, prints the hybrid search's top three passages: whether a query word
matched (lexical) and the passage's cosine similarity to the query under the encoder. The
search page shows meaning-only results only at or above ``MEANING_MIN_SIMILARITY``
(``tutoring/services/search.py``); this prints which queries that floor keeps.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

from tutoring.retrieval.chunking import chunk_book
from tutoring.retrieval.dense import DEFAULT_ENCODER
from tutoring.retrieval.index import (
    CANDIDATES,
    build_shard,
    encoder_for,
    indexed_text,
    load_shard,
    search_shards,
)
from tutoring.retrieval.parsers import parse_file

BOOKS = Path(__file__).resolve().parents[1] / "tutoring" / "data" / "textbooks"
# The floor shipped in tutoring/services/search.py (a core script may not import Django).
FLOOR = 0.17
NONSENSE = ["qwertyzzz", "асдфг", "zzzz xxxx", "лалала", "йцукен фыва"]
QUESTIONS = ["кӣ шеър навишт", "шоир", "подшоҳ", "растаниҳо чӣ тавр нафас мегиранд"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one book, two queries (CI)")
    smoke = parser.parse_args().smoke
    books = sorted(BOOKS.glob("*.md"))[: 1 if smoke else None]
    nonsense, questions = (NONSENSE[:1], QUESTIONS[:1]) if smoke else (NONSENSE, QUESTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        directories, texts = [], {}
        next_id = 0
        for number, path in enumerate(books):
            chunks = chunk_book(parse_file(path), count_tokens=lambda text: len(text.split()))
            ids = list(range(next_id, next_id + len(chunks)))
            next_id += len(chunks)
            for chunk_id, chunk in zip(ids, chunks, strict=True):
                texts[chunk_id] = chunk.text
            directory = Path(tmp) / f"book-{number}"
            build_shard(
                directory,
                ids,
                [indexed_text(c.heading_path, c.text) for c in chunks],
                encoder_name=DEFAULT_ENCODER,
            )
            directories.append(directory)
        encoder = encoder_for(DEFAULT_ENCODER)
        print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()}")
        print(f"{len(texts)} passages in {len(directories)} books; floor {FLOOR}")
        for label, queries in (("nonsense", nonsense), ("question", questions)):
            for query in queries:
                hits = search_shards(directories, query, encoder_name=DEFAULT_ENCODER, limit=3)
                vector = encoder.encode([query], is_query=True)[0]
                cosine: dict[int, float] = {}
                for directory in directories:
                    shard = load_shard(directory)
                    assert shard is not None and shard.dense is not None
                    for hit in shard.dense.search(vector, CANDIDATES):
                        cosine[hit.chunk_id] = hit.score
                kept = [h for h in hits if not h.matched and cosine.get(h.chunk_id, 0.0) >= FLOOR]
                row = ", ".join(
                    f"{'lexical' if h.matched else 'meaning'} {cosine.get(h.chunk_id, 0):.3f} "
                    f"{texts[h.chunk_id][:24]!r}"
                    for h in hits
                )
                print(f"{label:8} {query!r:40} shown {len(kept)}: {row}")


if __name__ == "__main__":
    main()
