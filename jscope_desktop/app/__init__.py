"""The Qt layer of Jacobian Scopes Desktop: the main window, its panels and the background worker.

Only this package imports QtWidgets. It talks to the engine through one :class:`worker.Worker`
(jobs run on its QThread; progress, results and errors come back as signals).
"""

from __future__ import annotations
