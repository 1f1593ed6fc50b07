"""The render layer: pictures, web pages and export formats of results (offscreen Qt;
headless Chromium where installed)."""

from qt_fixtures import (  # noqa: F401
    gc_on_the_gui_thread,
    isolated_settings,
    make_window,
    no_leaked_qthreads,
)
# (fixtures for every test here: garbage collected on the GUI thread only, settings kept apart
# from the user's, no leaked QThread, a window factory; tests/conftest.py's apply too)
