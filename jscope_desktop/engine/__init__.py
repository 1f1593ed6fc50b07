"""The engine: model loading, the Jacobian Scopes, time series and results. No Qt here."""

from __future__ import annotations
