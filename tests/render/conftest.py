"""The render layer: pictures, web pages and export formats of results (offscreen Qt;
headless Chromium where installed)."""

from qt_fixtures import isolated_settings, make_window, no_leaked_qthreads  # noqa: F401
# (fixtures for every test here: settings kept apart from the user's, no leaked QThread,
# a window factory; the shared ones of tests/conftest.py apply too)
