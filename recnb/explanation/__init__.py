"""Explanations that cite profile statements and item facts, and a checker for every claim they make."""
from recnb.explanation.check import Claim, ExplanationCheck, FactVocabulary, check_explanation
from recnb.explanation.explain import Explanation, explain, template_explanation
from recnb.explanation.facts import Fact, item_facts

__all__ = ["Claim", "Explanation", "ExplanationCheck", "Fact", "FactVocabulary", "check_explanation", "explain",
           "item_facts", "template_explanation"]
