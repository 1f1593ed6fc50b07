"""The request panel: prompt, chat toggle, scope (with its explanation), target, foil, Fisher
method, explained position, memory limit, and the Run / Cancel / Compare / Generate buttons
with the run's estimated cost ("≈ 12 s · 3.4 GB") beside Run."""

from __future__ import annotations

from PySide6.QtCore import QSize, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...engine.model.tokens import token_number
from ...engine.results.request import IG_BASELINES, AttributionRequest


class _PromptEdit(QPlainTextEdit):
    """The prompt box. It asks for three lines, not Qt's 192 px: the left column then fits a
    1,280 × 720 window without scrolling, and the box takes whatever height is left."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(super().sizeHint().width(), self.minimumSizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        lines = 3 * self.fontMetrics().lineSpacing() + 2 * self.frameWidth() + 8
        return QSize(super().minimumSizeHint().width(), lines)


class PromptPanel(QWidget):
    """What to explain and how.

    Signals:
        run_requested(): Run was clicked.
        cancel_requested(): Cancel was clicked.
        compare_requested(): "Compare Fisher and Temperature" was clicked.
        generate_requested(int): "Generate" was clicked with N tokens.
        request_changed(): the prompt or a setting of the request changed (debounced: once,
            ``ESTIMATE_DELAY_MS`` after the last change), so the estimate can be refreshed.
        memory_limit_changed(str): a valid memory limit was entered ("" for none).
    """

    ESTIMATE_DELAY_MS = 300

    run_requested = Signal()
    cancel_requested = Signal()
    compare_requested = Signal()
    generate_requested = Signal(int)
    request_changed = Signal()
    memory_limit_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.scopes: dict = {}  # name → engine.scopes.Scope, from the registry
        self.position: int | None = None
        self.target_id: int | None = None  # pinned when the target came from a click
        self._pinned_text: str | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Prompt")
        v = QVBoxLayout(box)
        self.prompt = _PromptEdit()
        self.prompt.setPlaceholderText("Type a prompt; Ctrl+Enter explains its next token.")
        self.prompt.setTabChangesFocus(True)
        self.chat = QCheckBox("Chat template")
        self.chat.setToolTip("Wrap the prompt in the model's chat template and explain the "
                             "assistant's first token")
        v.addWidget(self.prompt, 1)
        v.addWidget(self.chat)
        outer.addWidget(box, 1)
        outer.addWidget(self._build_scope_box())
        # Run, Cancel, Compare and Generate: a block of their own, which the window keeps in view
        # below the (scrolling) panels on a short screen
        self.actions = QWidget()
        self.actions.setLayout(self._build_buttons())
        self.actions.layout().setContentsMargins(0, 0, 0, 0)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(self.ESTIMATE_DELAY_MS)
        self._debounce.timeout.connect(self.request_changed)
        for signal in (self.prompt.textChanged, self.chat.toggled, self.scope.currentIndexChanged,
                       self.fisher_method.currentIndexChanged, self.target.textChanged,
                       self.ig_baseline.currentIndexChanged,
                       self.foil.textChanged):
            signal.connect(self._debounce.start)

    def _build_scope_box(self) -> QGroupBox:
        box = QGroupBox("Scope")
        form = QFormLayout(box)
        self.scope = QComboBox()
        self.scope.addItem("Starting the engine…", None)
        for combo in (self.scope,):  # a plugin's long label must not widen the window
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        self.explanation = QLabel("")
        self.explanation.setWordWrap(True)
        self.target = QLineEdit()
        self.target.setPlaceholderText("top-1 prediction (or click a bar)")
        self.target.setToolTip("Text of exactly one token; mind the leading space (' Paris')")
        self.foil = QLineEdit()
        self.foil.setPlaceholderText("second-best prediction")
        self.fisher_method = QComboBox()  # filled from the engine (set_fisher_methods)
        self.ig_baseline = QComboBox()  # Integrated's path start; shown for Integrated only
        for name in IG_BASELINES:
            self.ig_baseline.addItem(name, name)
        self.ig_baseline.setToolTip("Where Integrated's path starts: zero embeddings, the pad, "
                                    "eos or bos token's embedding, or the mean embedding")
        pos_row = QHBoxLayout()
        self.position_label = QLabel("last token")
        self.position_reset = QPushButton("Last token")
        self.position_reset.setToolTip("Explain the prediction after the last token again")
        pos_row.addWidget(self.position_label, 1)
        pos_row.addWidget(self.position_reset)
        form.addRow("Scope", self.scope)
        form.addRow(self.explanation)
        form.addRow("Target", self.target)
        form.addRow("Foil", self.foil)
        form.addRow("Fisher", self.fisher_method)
        form.addRow("IG baseline", self.ig_baseline)
        self._scope_form = form
        form.addRow("Position", pos_row)
        self.memory_limit = QLineEdit()
        self.memory_limit.setPlaceholderText("none (e.g. 8GB)")
        self.memory_limit.setToolTip("Refuse a run predicted to need more memory than this")
        self.memory_limit.editingFinished.connect(self._memory_limit_edited)
        form.addRow("Memory limit", self.memory_limit)
        self.scope.currentIndexChanged.connect(self._scope_changed)
        self.target.textEdited.connect(self._target_edited)
        self.position_reset.clicked.connect(lambda: self.set_position(None))
        return box

    def _build_buttons(self) -> QVBoxLayout:
        v = QVBoxLayout()
        row = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Explain the prediction after the prompt (Ctrl+Enter)")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run (Esc)")
        self.cancel_button.setEnabled(False)
        self.cost_label = QLabel("")
        self.cost_label.setToolTip("The run's predicted time and peak memory")
        row.addWidget(self.run_button, 2)
        row.addWidget(self.cost_label)
        row.addWidget(self.cancel_button, 1)
        v.addLayout(row)
        self.compare_button = QPushButton("Compare Fisher and Temperature")
        v.addWidget(self.compare_button)
        gen = QHBoxLayout()
        self.generate_n = QSpinBox()
        self.generate_n.setAccessibleName("Tokens to generate")
        self.generate_n.setRange(1, 64)
        self.generate_n.setValue(8)
        self.generate_n.setSuffix(" tokens")
        self.generate_button = QPushButton("Generate and attribute")
        self.generate_button.setToolTip("Generate N tokens greedily and show the attribution matrix "
                                 "(any direction scope; others use Temperature)")
        gen.addWidget(self.generate_n)
        gen.addWidget(self.generate_button, 1)
        v.addLayout(gen)
        self.run_button.clicked.connect(self.run_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.compare_button.clicked.connect(self.compare_requested)
        self.generate_button.clicked.connect(lambda: self.generate_requested.emit(self.generate_n.value()))
        return v

    # -- state ---------------------------------------------------------------------------
    def set_scopes(self, scopes: list, current: str) -> None:
        """Fill the scope selector from the engine's registry (``engine.scopes.Scope`` objects)."""
        self.scope.blockSignals(True)
        self.scope.clear()
        self.scopes = {s.name: s for s in scopes}
        for s in scopes:
            self.scope.addItem(s.label, s.name)
            self.scope.setItemData(self.scope.count() - 1, s.explanation, 3)  # 3 = ToolTipRole
        self.scope.blockSignals(False)
        self.set_scope(current if current in self.scopes else "temperature")
        self._scope_changed()

    def set_fisher_methods(self, methods: list[str], current: str | None = None) -> None:
        """Fill the Fisher method selector (the engine's methods) and select ``current``."""
        self.fisher_method.clear()
        for name in methods:
            self.fisher_method.addItem(name, name)
        self.fisher_method.setCurrentIndex(max(0, self.fisher_method.findData(current)))

    def set_scope(self, name: str) -> None:
        """Select scope ``name`` if it is registered."""
        if self.scope.findData(name) >= 0:
            self.scope.setCurrentIndex(self.scope.findData(name))

    def scope_name(self) -> str:
        """The selected scope's registry name."""
        return self.scope.currentData() or "temperature"

    def _needs(self) -> tuple[bool, bool]:
        s = self.scopes.get(self.scope_name())
        return (s.needs_target, s.needs_foil) if s is not None else (False, False)

    def _scope_changed(self, *_) -> None:
        s = self.scopes.get(self.scope_name())
        self.explanation.setText(s.explanation if s is not None else "")
        needs_target, needs_foil = self._needs()
        self.target.setEnabled(needs_target)
        self.foil.setEnabled(needs_foil)
        self.fisher_method.setEnabled(self.scope_name() == "fisher")
        self._scope_form.setRowVisible(self.ig_baseline, self.scope_name() == "integrated")

    def _target_edited(self, text: str) -> None:
        if text != self._pinned_text:
            self.target_id, self._pinned_text = None, None

    def set_target(self, token_id: int, text: str) -> None:
        """Make the token ``token_id`` (display ``text``) the target and select Semantic."""
        self.set_scope("semantic")
        self.target.setText(text)
        self.target_id, self._pinned_text = token_id, text

    def set_position(self, position: int | None, token: str | None = None) -> None:
        """Explain the prediction after token ``position`` (None: after the last token)."""
        if position != self.position and hasattr(self, "_debounce"):
            self._debounce.start()
        self.position = position
        self.position_label.setText(
            "last token" if position is None else f"token {token_number(position)} ({token!r})")

    def show_estimate(self, text: str, fits: bool = True, tip: str = "") -> None:
        """Show a run's estimate beside Run (``text`` e.g. "≈ 12 s · 3.4 GB"; red when the run
        will not fit, ``tip`` saying why)."""
        self.cost_label.setText(text)
        self.cost_label.setStyleSheet("" if fits else "color: #c0392b; font-weight: bold;")
        self.cost_label.setToolTip(tip or "The run's predicted time and peak memory")

    def memory_limit_bytes(self) -> int | None:
        """The memory limit entered, in bytes (None: none, or not a valid size)."""
        from ...engine.errors import JScopeError
        from ...engine.planning.cost_model import parse_size

        text = self.memory_limit.text().strip()
        try:
            return parse_size(text) if text else None
        except JScopeError:
            return None

    def _memory_limit_edited(self) -> None:
        from ...engine.errors import JScopeError
        from ...engine.planning.cost_model import parse_size

        text = self.memory_limit.text().strip()
        try:
            if text:
                parse_size(text)
        except JScopeError as exc:
            self.memory_limit.setStyleSheet("border: 1px solid #c0392b;")
            self.memory_limit.setToolTip(str(exc))
            return
        self.memory_limit.setStyleSheet("")
        self.memory_limit.setToolTip("Refuse a run predicted to need more memory than this")
        self.memory_limit_changed.emit(text)
        self._debounce.start()

    def set_busy(self, busy: bool) -> None:
        """Enable Cancel while a job runs."""
        self.cancel_button.setEnabled(busy)

    def request(self) -> AttributionRequest:
        """The request the current choices describe (target and foil only where the scope uses
        them; a target picked from the distribution is kept by id)."""
        needs_target, needs_foil = self._needs()
        target = self.target.text() if needs_target and self.target.text() else None
        req = AttributionRequest(
            prompt=self.prompt.toPlainText(), scope=self.scope_name(), chat=self.chat.isChecked(),
            position=self.position, fisher_method=self.fisher_method.currentData() or "fast",
            foil=self.foil.text() if needs_foil and self.foil.text() else None,
            ig_baseline=(self.ig_baseline.currentData() or "zero")
            if self.scope_name() == "integrated" else "zero")
        if needs_target and self.target_id is not None and target == self._pinned_text:
            return req.but(target_id=self.target_id)
        return req.but(target=target)

    def state(self) -> dict:
        """Everything needed to restore the panel (for sessions)."""
        return {"prompt": self.prompt.toPlainText(), "chat": self.chat.isChecked(),
                "scope": self.scope_name(), "target": self.target.text(),
                "target_id": self.target_id, "foil": self.foil.text(),
                "fisher_method": self.fisher_method.currentData(), "position": self.position,
                "ig_baseline": self.ig_baseline.currentData(),
                "generate_n": self.generate_n.value()}

    def restore(self, state: dict, position_token: str | None = None) -> None:
        """Restore a :meth:`state` dict (missing keys keep their current values).

        The request's fields are checked first (a session file may be damaged or hostile): a
        bad one raises a one-sentence ``JScopeError`` before any widget changes.
        """
        AttributionRequest.from_dict({k: v for k, v in state.items() if k != "generate_n"})
        n = state.get("generate_n", self.generate_n.value())
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
            from ...engine.errors import JScopeError

            raise JScopeError(f"The saved setting 'generate_n' has the value {n!r:.40}, which is not valid.")
        self.prompt.setPlainText(state.get("prompt", self.prompt.toPlainText()))
        self.chat.setChecked(bool(state.get("chat", self.chat.isChecked())))
        self.set_scope(state.get("scope", self.scope_name()))
        self.target.setText(state.get("target") or "")
        tid = state.get("target_id")
        self.target_id, self._pinned_text = tid, (state.get("target") if tid is not None else None)
        self.foil.setText(state.get("foil") or "")
        method = state.get("fisher_method")
        if method and self.fisher_method.findData(method) >= 0:
            self.fisher_method.setCurrentIndex(self.fisher_method.findData(method))
        if self.ig_baseline.findData(state.get("ig_baseline")) >= 0:
            self.ig_baseline.setCurrentIndex(self.ig_baseline.findData(state["ig_baseline"]))
        self.set_position(state.get("position"), position_token)
        self.generate_n.setValue(int(state.get("generate_n", self.generate_n.value())))
