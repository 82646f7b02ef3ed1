"""Language: item descriptions, NL user profiles, prompt templates."""
