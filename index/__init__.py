"""Embedding, indexing and searching chunks.

Nothing happens on import: the Hugging Face offline switches are set where models load
(``index.models.offline_hub``), configuration is read at the CLI and app edges.
"""
