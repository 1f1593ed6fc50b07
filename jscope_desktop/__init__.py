"""Jacobian Scopes Desktop: which input tokens caused a language model's prediction."""

from __future__ import annotations

import os

# Offline before anything can import Hugging Face code: every entry point (the CLI, the app, the
# frozen bundle, a notebook) imports this package first. Nothing ever reaches a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"  # forced: a user setting of 0 must not make us download
os.environ["TRANSFORMERS_OFFLINE"] = "1"

__version__ = "0.1.0"
