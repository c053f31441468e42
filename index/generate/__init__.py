"""Grounded answers: a language model writes the answer from the cited passages, and each sentence is checked.

``endpoint`` (any OpenAI-compatible server: settings, streaming client), ``prompt`` (numbered passages in,
the reader's language out), ``check`` (each answer sentence proven against the passages it cites), ``ask``
(retrieval → prompt → stream → check: the one API the CLI, the app and the eval harness call).
"""
