"""The window's file actions (a mixin of :class:`~.main_window.MainWindow`): save the image,
copy it, export CSV/JSON, save and open sessions, the About box. Each reports a problem as one
sentence in the window and leaves everything on screen as it was."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ...engine.errors import JScopeError
from ...engine.results.result import AttributionResult
from ...render.figures.formats import IMAGE_FORMATS, file_filter
from ...render.outputs import save_page
from ..window.about import show_about
from . import save_actions
from .session import Session, load_session, save_session

IMAGE_SUFFIXES = tuple(IMAGE_FORMATS)  # ".png" first: the default
RECENT_SUFFIXES = (".json", ".html", ".htm")  # what File ▸ Open Recent lists once saved


def completed_path(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    """``path`` as given when its name ends in one of ``suffixes`` (any case) or, for a picture,
    has another suffix (the format table refuses it in one sentence); else with the first of
    ``suffixes`` appended ("result" → "result.png", "run" → "run.jscope.json")."""
    path = Path(path)
    name = path.name.lower()
    if any(name.endswith(s) for s in suffixes) or (suffixes == IMAGE_SUFFIXES and path.suffix):
        return path
    return path.with_name(path.name + suffixes[0])


def free_name(folder: Path, prompt: str, scope: str | None, suffix: str) -> str:
    """A file name for a save dialog that names what is saved and is not taken in ``folder``:
    the prompt's first words and the scope ("the-capital-of-france-temperature.png"), then
    "-2", "-3", … while such a file exists."""
    words = "".join(c if c.isalnum() else " " for c in prompt.lower()).split()[:4]
    stem = "-".join(words + ([scope] if scope else [])) or "jscope"
    name, n = stem + suffix, 2
    while (folder / name).exists():
        name, n = f"{stem}-{n}{suffix}", n + 1
    return name


class FileActions:
    """Saving and opening, for a window with ``strip``, ``prompt_panel`` and friends."""

    def shown_result(self) -> AttributionResult | None:
        """The result the current tab shows (the matrix in the matrix tab), or None."""
        if self.tabs.currentWidget() is self.matrix_view and self.matrix_view.result:
            return self.matrix_view.result
        return self.result

    def _shown_strip(self):
        if self.tabs.currentWidget() is self.matrix_view and self.matrix_view.result:
            return self.matrix_view.strip
        return self.strip

    def _target(self, path: str | None, title: str, suffixes: tuple[str, ...], filters: str,
                scope: str | None = None) -> str | None:
        """Where a save writes: ``path``, or the path chosen in a dialog that opens in the last
        folder used with a name that is not taken yet; either way with the kind's suffix
        appended when the name has none (``suffixes``: the accepted ones, the first the
        default). None when the dialog was cancelled."""
        if not path:
            folder = Path(self.last_folder())
            suggested = folder / free_name(folder, self.prompt_panel.prompt.toPlainText(), scope,
                                           suffixes[0])
            path, _ = QFileDialog.getSaveFileName(self, title, str(suggested), filters)
            if not path:
                return None
        return str(completed_path(path, suffixes))

    def _guard(self, action, done: str) -> bool:
        try:
            written = action()
        except JScopeError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.show_message("")  # an earlier failure's sentence is stale now
        self.remember_folder(written)
        self.add_recent_file(written) if Path(written).suffix.lower() in RECENT_SUFFIXES else None
        self.statusBar().showMessage(done.format(written), 5000)
        return True

    def _need_result(self) -> AttributionResult | None:
        result = self.shown_result()
        if result is None:
            self.show_message("There is no result to save yet; run a scope first.", error=True)
        return result

    def save_image(self, path: str | None = None) -> bool:
        """Save the annotated strip (PNG 2×, SVG or PDF by suffix); asks for a path if None."""
        result = self._need_result()
        if result is None:
            return False
        path = self._target(path, "Save image", IMAGE_SUFFIXES, file_filter(), result.scope)
        if not path:
            return False
        options = self._shown_strip().figure_options()
        return self._guard(lambda: save_actions.write_image(result, path, options), "Saved {}.")

    def copy_image(self) -> bool:
        """Copy the annotated strip to the clipboard."""
        result = self._need_result()
        if result is None:
            return False
        save_actions.copy_image(result, self._shown_strip().figure_options())
        self.statusBar().showMessage("Image copied to the clipboard.", 5000)
        return True

    def export_csv(self, path: str | None = None) -> bool:
        """Write the result as CSV (one line per token)."""
        result = self._need_result()
        path = result and self._target(path, "Export CSV", (".csv",), save_actions.CSV_FILTER,
                                       result.scope)
        return bool(path) and self._guard(lambda: save_actions.write_csv(result, path), "Wrote {}.")

    def save_web_page(self, path: str | None = None) -> bool:
        """Write the shown result (the matrix in the matrix tab, the series in the time-series
        tab) as a self-contained web page, opening with the view's colour map and what its
        colour scale excludes."""
        if self.tabs.currentWidget() is self.series_tab and self.series_tab.result is not None:
            result = self.series_tab.result  # the series tab's own button
        else:
            result = self._need_result()
        path = result and self._target(path, "Save as web page", (".html", ".htm"),
                                       "Web page (*.html)", result.scope)
        view = self.view_controls.view()
        return bool(path) and self._guard(
            lambda: save_page(result, path, view["cmap"], view["exclude"]), "Wrote {}.")

    def export_json(self, path: str | None = None) -> bool:
        """Write the result's JSON contract."""
        result = self._need_result()
        path = result and self._target(path, "Export JSON", (".json",), save_actions.JSON_FILTER,
                                       result.scope)
        return bool(path) and self._guard(lambda: save_actions.write_json(result, path), "Wrote {}.")

    def session(self) -> Session:
        """The current prompt, settings and results as a :class:`Session`."""
        compare = list(self.compare_view.results or [])
        return Session(request=self.prompt_panel.state(), view=self.view_controls.view(),
                       model=self.model_panel.current_source(), result=self.result,
                       compare=compare, matrix=self.matrix_view.result)

    def save_session(self, path: str | None = None) -> bool:
        """Save the session to a ``.jscope.json`` file."""
        path = self._target(path, "Save session", (".jscope.json", ".json"),
                            "Sessions (*.jscope.json *.json)", "session")
        return bool(path) and self._guard(lambda: save_session(self.session(), path),
                                          "Session saved to {}.")

    def open_session(self, path: str | None = None) -> bool:
        """Restore a session: prompt, settings and results (the model is not reloaded)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open session", self.last_folder(),
                                                  "Sessions (*.jscope.json *.json)")
        if not path:
            return False
        try:
            s = load_session(path)
        except JScopeError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.restore_session(s)
        self.estimates.refresh()
        self.statusBar().showMessage(f"Session {Path(path).name} restored.", 5000)
        return True

    def restore_session(self, s: Session) -> None:
        """Put a session's prompt, settings and results on screen."""
        token = None
        pos = s.request.get("position")
        if s.result is not None and pos is not None and 0 <= pos < len(s.result.tokens):
            token = s.result.tokens[pos]
        p = self.prompt_panel
        p.prompt.blockSignals(True)  # keep the restored position
        p.restore(s.request, token)
        p.prompt.blockSignals(False)
        self.view_controls.set_view(**s.view)
        if s.result is not None:
            self.show_result(s.result)
        if s.compare:  # any number of compared scopes (a multi-scope run keeps every one)
            self.compare_view.set_results(*s.compare)
        if s.matrix is not None:
            self.matrix_view.set_result(s.matrix)
        if s.model != self.model_panel.current_source():
            self.show_message(f"This session was made with {s.model or 'the embedded model'}; "
                              "open that model to run it again.")
        self.note_stale_views()

    def about(self) -> None:
        """Show the About box with versions and the embedded model's licence."""
        e = self.engine
        versions = e.versions if e else {}
        show_about(self, versions, e.embedded_name if e else "SmolLM2-135M-Instruct",
                   e.embedded_license if e else "Apache-2.0")

    def save_settings(self) -> None:
        """Remember the prompt, choices and window geometry."""
        s, p = self.settings, self.prompt_panel
        s.set("prompt", p.prompt.toPlainText())
        s.set("chat", p.chat.isChecked())
        s.set("generate_n", p.generate_n.value())
        if self.engine is not None:
            s.set("scope", p.scope_name())
            s.set("fisher_method", p.fisher_method.currentData())
            s.set("device", self.model_panel.device.currentData() or "auto")
            s.set("dtype", self.model_panel.dtype.currentData() or "float32")
        s.set_geometry(bytes(self.saveGeometry()))
        s.set_geometry(bytes(self.splitter.saveState()), "splitter")
        s.sync()

    def restore_settings(self) -> None:
        """Put the remembered prompt, choices and recent models on screen."""
        s = self.settings
        self.prompt_panel.prompt.setPlainText(s.get("prompt"))
        self.prompt_panel.chat.setChecked(s.get("chat"))
        self.prompt_panel.generate_n.setValue(s.get("generate_n"))
        self.model_panel.set_recent(s.recent_models())
        self.view_controls.set_view(s.get("cmap"), s.get("scale"), s.get("granularity"),
                                    s.get("zoom"), exclude=s.get("exclude"))
