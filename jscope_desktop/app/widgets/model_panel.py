"""The model panel: which model (embedded, recent, a file or folder), device, dtype, and facts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

EMBEDDED = "__embedded__"


def dropped_model_path(event) -> str | None:
    """The local path of a dropped folder or .gguf file, or None if the drop is not a model."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    for url in urls:
        path = Path(url.toLocalFile())
        if path.is_dir() or path.suffix.lower() == ".gguf":
            return str(path)
    return None


class ModelPanel(QGroupBox):
    """Choose and describe the model.

    Signals:
        load_requested(object source, str device, str dtype): load ``source`` (a path, or None
            for the embedded model) on ``device`` with ``dtype``.
    """

    load_requested = Signal(object, str, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Model", parent)
        self.setAcceptDrops(True)
        grid = QGridLayout(self)
        self.source = QComboBox()
        self.source.setAccessibleName("Model")
        self.source.setToolTip("The embedded model, or a recently opened folder or .gguf file; "
                               "drop a model folder or .gguf file here to open it")
        self.source.addItem("Embedded model (SmolLM2-135M-Instruct)", EMBEDDED)
        self.source.setSizeAdjustPolicy(  # a long path must not widen the window
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(18)
        self.open_file = QPushButton("Open .gguf…")
        self.open_folder = QPushButton("Open folder…")
        self.device = QComboBox()
        self.device.setToolTip("Only devices present on this machine can be chosen")
        self.dtype = QComboBox()
        self.dtype.setAccessibleName("Dtype")
        self.dtype.setToolTip("The number format of the weights (float32, bfloat16, float16)")
        self.info = QLabel("Starting…")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(self.source, 0, 0, 1, 4)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_file)
        buttons.addWidget(self.open_folder)
        grid.addLayout(buttons, 1, 0, 1, 4)
        device_label, dtype_label = QLabel("&Device"), QLabel("D&type")
        device_label.setBuddy(self.device)  # Alt+D / Alt+T reach them, as the labels say
        dtype_label.setBuddy(self.dtype)
        grid.addWidget(device_label, 2, 0)
        grid.addWidget(self.device, 2, 1)
        grid.addWidget(dtype_label, 2, 2)
        grid.addWidget(self.dtype, 2, 3)
        grid.addWidget(self.info, 3, 0, 1, 4)
        self.source.activated.connect(lambda _: self.request_load())
        self.open_file.clicked.connect(self.choose_file)
        self.open_folder.clicked.connect(self.choose_folder)

    def set_engine_info(self, devices_present: list[str], all_devices: list[str],
                        dtypes: list[str], device: str, dtype: str) -> None:
        """Fill device and dtype choices; devices not present are shown but disabled."""
        self.device.clear()
        for i, name in enumerate(all_devices):
            self.device.addItem(name, name)
            if name not in devices_present:
                self.device.model().item(i).setEnabled(False)
        self.device.setCurrentIndex(max(0, self.device.findData(
            device if device in devices_present else "auto")))
        self.dtype.clear()
        for name in dtypes:
            self.dtype.addItem(name, name)
        self.dtype.setCurrentIndex(max(0, self.dtype.findData(dtype)))
        self.device.activated.connect(lambda _: self.request_load())
        self.dtype.activated.connect(lambda _: self.request_load())

    def set_recent(self, paths: list[str]) -> None:
        """Show ``paths`` (most recent first) after the embedded model."""
        current = self.source.currentData()
        while self.source.count() > 1:
            self.source.removeItem(1)
        for p in paths:
            self.source.addItem(Path(p).name or p, p)
            self.source.setItemData(self.source.count() - 1, p, Qt.ItemDataRole.ToolTipRole)
        index = self.source.findData(current)
        self.source.setCurrentIndex(max(0, index))

    def select_source(self, source: str | None) -> None:
        """Select ``source`` (None: embedded), adding it to the list if missing."""
        key = EMBEDDED if source is None else str(source)
        if self.source.findData(key) < 0:
            self.source.insertItem(1, Path(key).name or key, key)
        self.source.setCurrentIndex(self.source.findData(key))

    def current_source(self) -> str | None:
        """The selected source path, or None for the embedded model."""
        data = self.source.currentData()
        return None if data in (None, EMBEDDED) else str(data)

    def request_load(self, source: str | None | bool = False) -> None:
        """Emit ``load_requested`` for ``source`` (default: the selected one)."""
        if source is not False:
            self.select_source(source)  # type: ignore[arg-type]
        self.load_requested.emit(self.current_source(), self.device.currentData() or "auto",
                                 self.dtype.currentData() or "float32")

    def choose_file(self) -> None:
        """Ask for a .gguf file and load it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open a .gguf model", "",
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.request_load(path)

    def choose_folder(self) -> None:
        """Ask for a Hugging Face model folder and load it."""
        path = QFileDialog.getExistingDirectory(self, "Open a model folder")
        if path:
            self.request_load(path)

    def show_model(self, info) -> None:
        """Describe a loaded model (a ModelInfo) on the info line."""
        self.info.setText(
            f"<b>{info.name}</b> · {info.architecture}<br>{info.n_params / 1e6:.0f} M parameters"
            f" · {info.n_layers} layers · width {info.d_model} · vocabulary {info.vocab_size:,}"
            f" · context {info.context_length:,}")

    def show_status(self, text: str) -> None:
        """Show a loading status or a problem on the info line."""
        self.info.setText(text)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if dropped_model_path(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        path = dropped_model_path(event)
        if path:
            self.request_load(path)
            event.acceptProposedAction()
