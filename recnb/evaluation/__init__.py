"""Evaluation: protocols, metrics, the synthetic contract catalog, leaderboards."""
