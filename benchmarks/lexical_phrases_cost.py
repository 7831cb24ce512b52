"""What suffix stripping and phrase pairs cost the lexical index: build time, search time
and vocabulary size on N passages of 120 words drawn at random from the demo textbooks
(word salad: every pair is new, so this is the worst case for the pair vocabulary).

    .venv/bin/python benchmarks/lexical_phrases_cost.py [--passages 10000]
    .venv/bin/python benchmarks/lexical_phrases_cost.py --smoke   # 200 passages (CI)
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tutoring.retrieval.lexical import LexicalIndex

ROOT = Path(__file__).resolve().parents[1]
QUERY = "Исмоили Сомонӣ кай ҳукмронӣ кардааст"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=10000)
    parser.add_argument("--smoke", action="store_true", help="200 passages (CI)")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.passages = 200
    books = (ROOT / "tutoring" / "data" / "textbooks").glob("*.md")
    words = re.findall(r"\w+", " ".join(path.read_text(encoding="utf-8") for path in books))
    random.seed(1)
    texts = [" ".join(random.sample(words, 120)) for _ in range(arguments.passages)]
    print(
        f"# {arguments.passages} passages of 120 words, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for label, options in (
        ("surface words, no pairs (format 1)", {"analyzer": "none", "phrases": False}),
        ("suffix stripping + pairs (default)", {}),
    ):
        started = time.perf_counter()
        index = LexicalIndex.build(texts, **options)  # type: ignore[arg-type]
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(50):
            index.search(QUERY, 50)
        search_ms = (time.perf_counter() - started) / 50 * 1000
        vocabulary = len(index.model.vocab_dict)  # type: ignore[attr-defined]
        print(f"{label}: build {build_s:.1f} s, search {search_ms:.1f} ms, {vocabulary} terms")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
