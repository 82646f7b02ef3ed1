"""Candidate generation: embed texts once (cached), search them with FAISS or BM25."""
