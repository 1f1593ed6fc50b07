"""Jacobian Scopes Desktop: which input tokens caused a language model's prediction."""

from __future__ import annotations

__version__ = "0.1.0"
