"""Multi-module systems built from the kit's parts: RAG with citations, tools, a conversational recommender.

* :mod:`~recnb.systems.catalog`: :class:`ItemCatalog`, the items as facts, passages, search and filters;
* :mod:`~recnb.systems.rag`: retrieve -> generate or choose -> validate citations -> check claims;
* :mod:`~recnb.systems.claims`: claims an answer makes about items, checked against retrieved text;
* :mod:`~recnb.systems.injection`: retrieved text is data (delimiting, neutralising, planted attacks);
* :mod:`~recnb.systems.tools`: JSON tool calls validated with jsonschema before they run;
* :mod:`~recnb.systems.belief_state`, :mod:`~recnb.systems.nlu`, :mod:`~recnb.systems.conversation`:
  the dialogue loop over an editable NL belief state, LLM-read with a counted rule fallback;
* :mod:`~recnb.systems.simulator`: a user simulator with a hidden held-out target, and its evaluation.
"""
from __future__ import annotations

from recnb.systems.belief_state import Belief, BeliefState
from recnb.systems.catalog import ItemCatalog
from recnb.systems.constraints import Constraint
from recnb.systems.conversation import ConversationalRecommender, Turn
from recnb.systems.injection import Defences
from recnb.systems.rag import RAGRecommender
from recnb.systems.tools import ToolBox

__all__ = ["Belief", "BeliefState", "Constraint", "ConversationalRecommender", "Defences", "ItemCatalog",
           "RAGRecommender", "ToolBox", "Turn"]
