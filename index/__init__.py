"""Embedding, indexing and searching chunks.

The Hugging Face hub is unreachable from CiteLens machines: force offline mode before
any Hugging Face library is imported, so a missing model fails at once instead of
hanging on network retries.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
