"""Candidate generation: embed texts once (cached), search them with FAISS or BM25.

* :class:`EmbeddingCache`: batch embedding with an on-disk cache keyed by model + text hash;
* :class:`VectorIndex`: exact / HNSW / IVF FAISS search by item id, filters that return k;
* :class:`FactFilter`: year range, genres, exclude-seen;
* :class:`DenseRetriever`: the three together over a catalog (request, profile, more-like-this);
* :class:`BM25Index`: the lexical baseline (bm25s) with the same filters;
* :func:`request_rankers`: bi-encoder, BM25 and cross-encoder rankings of one request.
"""
from recnb.candidates.compare import request_rankers
from recnb.candidates.embeddings import EmbeddingCache
from recnb.candidates.filters import FactFilter
from recnb.candidates.index import VectorIndex, recall_at_k
from recnb.candidates.lexical import BM25Index
from recnb.candidates.retriever import DenseRetriever

__all__ = ["BM25Index", "DenseRetriever", "EmbeddingCache", "FactFilter", "VectorIndex", "recall_at_k", "request_rankers"]
