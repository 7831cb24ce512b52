"""Lexical retrieval: BM25 (``bm25s``) over Tajik-aware terms, with a phrase boost.

Texts and queries go through the same ``tokenize_tajik`` (normalise, lowercase, split words,
drop stop words), so a query typed with Russian look-alike letters still finds the Tajik word;
then through an analyzer (``tutoring.retrieval.morphology``: by default a light suffix
stripper, so ``китобҳоро`` finds ``китоб``). Lexical search carries Tajik where multilingual
embedding models cannot.

Phrases: each pair of neighbouring terms is indexed too, as one more term ("исмоил сомон").
A query's pairs score by BM25 like words, times ``phrase_weight``, on top of its words'
scores, so passages with the query's words side by side ("Исмоили Сомонӣ") rank above
passages with the same words apart ("Исмоил ... 16 сомонӣ").

Index format 1 (before analyzers and phrases) still loads and is searched as it was built:
surface words, no phrases. ``manage.py build_index`` rebuilds it in the current format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from tutoring.retrieval.morphology import DEFAULT_ANALYZER, NO_ANALYZER, Analyzer, analyzer_for
from tutoring.retrieval.types import Hit

Tokenizer = Callable[[str], list[str]]

FORMAT = 2
# Pair terms score this many times their BM25 on top of the words' scores (docs/retrieval.md).
PHRASE_WEIGHT = 1.0

# bm25s's defaults (Lucene's BM25 variant).
K1 = 1.5
B = 0.75


def _default_tokenizer() -> Tokenizer:
    # Imported when first needed: normalize.py is its own module with its own tests.
    from tutoring.retrieval.normalize import tokenize_tajik

    return tokenize_tajik


class LexicalIndex:
    """A BM25 index of texts under the caller's integer ids."""

    def __init__(
        self,
        model: object,
        ids: np.ndarray,
        tokenizer: Tokenizer | None = None,
        *,
        analyzer: str = NO_ANALYZER,
        phrases: bool = False,
        phrase_weight: float = PHRASE_WEIGHT,
    ) -> None:
        self.model = model
        self.ids = np.asarray(ids, dtype=np.int64)
        self.tokenizer = tokenizer or _default_tokenizer()
        self.analyzer_name = analyzer
        self.analyze: Analyzer = analyzer_for(analyzer)
        self.phrases = phrases
        self.phrase_weight = phrase_weight
        self._position_of = {int(chunk_id): position for position, chunk_id in enumerate(ids)}

    def terms(self, text: str) -> tuple[list[str], list[str]]:
        """The word terms of ``text`` in order, and its phrase terms (neighbouring pairs;
        none when the index has no phrases)."""
        words = self.analyze(self.tokenizer(text))
        pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)] if self.phrases else []
        return words, pairs

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        ids: Sequence[int] | np.ndarray | None = None,
        *,
        tokenizer: Tokenizer | None = None,
        analyzer: str = DEFAULT_ANALYZER,
        phrases: bool = True,
        phrase_weight: float = PHRASE_WEIGHT,
        k1: float = K1,
        b: float = B,
    ) -> LexicalIndex:
        """Index ``texts``; ``ids`` (unique) default to the positions 0..n-1."""
        import bm25s

        tokenizer = tokenizer or _default_tokenizer()
        index = cls(
            None,
            np.zeros(0, dtype=np.int64),
            tokenizer,
            analyzer=analyzer,
            phrases=phrases,
            phrase_weight=phrase_weight,
        )
        ids_array = np.arange(len(texts)) if ids is None else np.asarray(ids, dtype=np.int64)
        if len(ids_array) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(ids_array)} ids")
        if len(np.unique(ids_array)) != len(ids_array):
            raise ValueError("ids must be unique")
        model = bm25s.BM25(k1=k1, b=b)
        # An empty document list would make bm25s fail; one empty token keeps the shapes valid.
        documents = [sum(index.terms(text), []) for text in texts]
        model.index(documents or [[""]], show_progress=False)
        return cls(
            model,
            ids_array,
            tokenizer,
            analyzer=analyzer,
            phrases=phrases,
            phrase_weight=phrase_weight,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self, query: str, k: int = 10, allowed_ids: Iterable[int] | None = None
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query`` (only those sharing a word with it), best first,
        optionally only among ``allowed_ids``; each hit names the query words it contains (a
        word counts when its stem is in the chunk: "китобҳо" matches "китоб")."""
        if k <= 0 or len(self) == 0:
            return []
        # Unique query terms in query order; repeats would only double a word's weight.
        surface = self.tokenizer(query)
        words = self.analyze(surface)
        pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)] if self.phrases else []
        query_tokens = list(dict.fromkeys(words))
        # A hit names the query's words as typed (normalised), not their stems.
        word_for_term: dict[str, str] = {}
        for term, word in zip(words, surface, strict=True):
            word_for_term.setdefault(term, word)
        vocabulary: dict[str, int] = self.model.vocab_dict  # type: ignore[attr-defined]
        token_ids = [vocabulary[token] for token in query_tokens if token in vocabulary]
        if not token_ids:
            return []
        scores = self.model.get_scores(token_ids)  # type: ignore[attr-defined]
        pair_ids = [vocabulary[pair] for pair in dict.fromkeys(pairs) if pair in vocabulary]
        if pair_ids and self.phrase_weight:
            phrase_scores = self.model.get_scores(pair_ids)  # type: ignore[attr-defined]
            scores = scores + self.phrase_weight * phrase_scores
        if allowed_ids is not None:
            positions = np.fromiter(
                (
                    self._position_of[int(chunk_id)]
                    for chunk_id in allowed_ids
                    if int(chunk_id) in self._position_of
                ),
                dtype=np.int64,
            )
            candidates = positions[scores[positions] > 0]
        else:
            candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        # Best first; ties by position so results are stable across runs.
        candidates = candidates[np.lexsort((candidates, -scores[candidates]))]
        matched = self._matched_tokens(query_tokens, candidates)
        return [
            Hit(
                chunk_id=int(self.ids[position]),
                score=float(scores[position]),
                matched=tuple(word_for_term[term] for term in matched[int(position)]),
            )
            for position in candidates
        ]

    def _matched_tokens(
        self, query_tokens: list[str], positions: np.ndarray
    ) -> dict[int, tuple[str, ...]]:
        """For each position, the query tokens its document contains, in query order."""
        index = self.model.scores  # type: ignore[attr-defined]
        vocabulary: dict[str, int] = self.model.vocab_dict  # type: ignore[attr-defined]
        matched: dict[int, list[str]] = {int(position): [] for position in positions}
        for token in query_tokens:
            token_id = vocabulary.get(token)
            if token_id is None:
                continue
            postings = index["indices"][index["indptr"][token_id] : index["indptr"][token_id + 1]]
            for position in positions[np.isin(positions, postings)]:
                matched[int(position)].append(token)
        return {position: tuple(tokens) for position, tokens in matched.items()}

    def save(self, directory: str | Path) -> None:
        """Write the bm25s files and ``ids.npy`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(str(directory / "bm25"))  # type: ignore[attr-defined]
        np.save(directory / "ids.npy", self.ids)
        meta = {
            "format": FORMAT,
            "count": len(self),
            "analyzer": self.analyzer_name,
            "phrases": self.phrases,
        }
        (directory / "lexical.json").write_text(json.dumps(meta))

    @classmethod
    def load(
        cls, directory: str | Path, *, tokenizer: Tokenizer | None = None, mmap: bool = False
    ) -> LexicalIndex:
        """Read an index written by ``save``; ``tokenizer`` must be the one it was built with.
        The analyzer and phrases are those it was built with (format 1: none, no phrases)."""
        import bm25s

        directory = Path(directory)
        meta_path = directory / "lexical.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        model = bm25s.BM25.load(str(directory / "bm25"), mmap=mmap, show_progress=False)
        return cls(
            model,
            np.load(directory / "ids.npy"),
            tokenizer,
            analyzer=meta.get("analyzer", NO_ANALYZER),
            phrases=bool(meta.get("phrases", False)),
        )
