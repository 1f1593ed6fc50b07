"""The desktop app driven with pytest-qt: real widgets, signals and saved files (offscreen)."""

from qt_fixtures import (  # noqa: F401
    gc_on_the_gui_thread,
    isolated_settings,
    make_window,
    no_leaked_qthreads,
)
# (fixtures for every test here: garbage collected on the GUI thread only, settings kept apart
# from the user's, no leaked QThread, a window factory; tests/conftest.py's apply too)
