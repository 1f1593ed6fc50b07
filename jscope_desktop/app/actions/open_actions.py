"""Opening what the product saved (a mixin of :class:`~..window.main_window.MainWindow`): a
session, a result JSON of any kind, or a web page written by the product (its embedded result),
from File ▸ Open…, File ▸ Open Recent, a file dropped on the window or ``jscope-desktop FILE``.
Each reports a problem as one sentence and leaves what is on screen as it was."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ...engine.errors import JScopeError
from ...engine.io import read_user_json, read_user_text
from ...engine.results.multi_result import MultiScopeResult, read_result, result_from_dict
from ...engine.results.result import MatrixResult, SeriesResult
from ...render.core.html import read_embedded
from .session import is_session, load_session

OPEN_FILTER = ("Sessions, results and web pages (*.jscope.json *.json *.html *.htm);;"
               "All files (*)")


def read_page_result(path: str | Path):
    """The result embedded in a web page the product wrote (any kind).

    Raises:
        JScopeError: the file cannot be read or is not such a page (one sentence).
    """
    text = read_user_text(path, "web page")
    try:
        data = read_embedded(text)
    except (ValueError, KeyError):
        raise JScopeError(f"{Path(path).name} is not a web page written by Jacobian Scopes "
                          "(it holds no embedded result).") from None
    try:
        return result_from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JScopeError(f"The result inside {Path(path).name} is not a Jacobian Scopes result "
                          f"({type(exc).__name__}: {exc}).") from None


class OpenActions:
    """File ▸ Open… and Open Recent, for a window with the views and ``settings``."""

    def open_file(self, path: str | None = None) -> bool:
        """Open a session, a result JSON (single, matrix, series or several scopes) or a web
        page written by the product, and show it as it was saved; asks for a path if None.
        Returns True when something was opened."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open", self.last_folder(), OPEN_FILTER)
        if not path:
            return False
        self.remember_folder(path)
        try:
            if Path(path).suffix.lower() in (".html", ".htm"):
                self.show_any(read_page_result(path))
            elif is_session(read_user_json(path, "result file",
                                           "a session or result written by Jacobian Scopes")):
                self.restore_session(load_session(path))
            else:
                self.show_any(read_result(path))
        except JScopeError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.add_recent_file(path)
        self.estimates.refresh()  # the estimate beside Run follows what is on screen
        self.statusBar().showMessage(f"Opened {Path(path).name}.", 5000)
        return True

    def show_any(self, result) -> None:
        """Show a result of any kind in the view made for it."""
        if isinstance(result, MultiScopeResult):
            self.show_multi(result)
        elif isinstance(result, SeriesResult):
            self.series_tab.show_result(result)
            self.tabs.setCurrentIndex(self.tabs.count() - 1)
        elif isinstance(result, MatrixResult):
            self.show_matrix(result)
        else:
            self.show_result(result)

    def add_recent_file(self, path: str | Path) -> None:
        """Put ``path`` first in File ▸ Open Recent."""
        self.settings.add_recent(str(Path(path).resolve()))
        self.refresh_recent_menu()

    def refresh_recent_menu(self) -> None:
        """Rebuild File ▸ Open Recent from the settings (missing files are left out)."""
        menu = getattr(self, "recent_menu", None)
        if menu is None:
            return
        menu.clear()
        items = [p for p in self.settings.recent() if Path(p).is_file()]
        for p in items:
            act = menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.setStatusTip(p)
            act.triggered.connect(lambda *_, p=p: self.open_file(p))
        menu.setEnabled(bool(items))

    def last_folder(self) -> str:
        """The folder a file dialog opens in: the last one used (else the home folder)."""
        folder = self.settings.get("last_folder")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def remember_folder(self, path: str | Path) -> None:
        """Remember the folder of ``path`` for the next file dialog."""
        self.settings.set("last_folder", str(Path(path).resolve().parent))
