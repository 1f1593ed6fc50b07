"""The Qt layer of Jacobian Scopes Desktop: the main window, its panels and the background worker.

Only this package imports QtWidgets. It talks to the engine through one
:class:`background.worker.Worker` (jobs run on its QThread; progress, results and errors come back
as signals). Rooms: start/ (entry point, library check, self-test), window/, widgets/, series/
(the Time-series tab), actions/ (files and examples), background/ (worker, jobs, estimates).
"""

from __future__ import annotations
