"""The main window's widgets and where they sit: the request panels on the left, the views in
tabs in the middle, the distribution and costs on the right. Signals are wired in the window."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QLabel,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..background.countdown import Countdown
from ..widgets.compare_view import CompareView
from ..widgets.cost_panel import CostPanel
from ..widgets.distribution_panel import DistributionPanel
from ..widgets.matrix_view import MatrixView
from ..widgets.model_panel import ModelPanel
from ..widgets.prompt_panel import PromptPanel
from ..widgets.scrolling import focus_framed, scrolled
from ..widgets.strip_widget import StripWidget
from ..widgets.view_controls import ViewControls

DEFAULT_SIZES = (380, 720, 340)  # the splitter's columns after "Reset layout"


FIRST_START = ("<b>Try it:</b> type a prompt such as <i>The capital of France is</i> and press "
               "Ctrl+Enter (or Run). <br>Each token of the prompt is then coloured by how much "
               "it moved the model's next-token prediction: the brighter, the more it mattered. "
               "Hover a token for its score; click one to explain the prediction after it.")


def build_window(window) -> None:
    """Create the window's widgets as attributes of ``window`` (a ``MainWindow`` whose
    ``worker`` and ``holder`` exist) and lay them out."""
    window.model_panel = ModelPanel()
    window.prompt_panel = PromptPanel()
    left = QWidget()
    lv = QVBoxLayout(left)
    lv.addWidget(window.model_panel)
    lv.addWidget(window.prompt_panel, 1)
    lv.setContentsMargins(0, 0, 0, 0)
    window.message = QLabel("")
    window.message.setWordWrap(True)
    window.message.setVisible(False)
    window.progress = QProgressBar()
    window.progress.setRange(0, 1000)
    window.progress.setTextVisible(True)
    window.progress.setVisible(False)
    keep = window.progress.sizePolicy()  # hidden, it keeps its place: no jump on every run
    keep.setRetainSizeWhenHidden(True)
    window.progress.setSizePolicy(keep)
    window.countdown = Countdown(window.progress)  # the time left, recounted every second
    window.view_controls = ViewControls()
    window.strip = StripWidget()
    window.ranking = QLabel(FIRST_START)
    window.ranking.setWordWrap(True)
    strip_page = QWidget()
    sv = QVBoxLayout(strip_page)
    sv.addWidget(window.strip)
    sv.addWidget(window.ranking)
    sv.addStretch(1)
    strip_scroll = window.strip_scroll = QScrollArea()
    strip_scroll.setWidgetResizable(True)
    strip_scroll.setWidget(strip_page)
    focus_framed(strip_scroll, "Token strip")  # arrows and Page Down scroll a long prompt
    window.compare_view = CompareView()
    window.matrix_view = MatrixView()
    window.tabs = QTabWidget()
    window.tabs.tabBar().setAccessibleName("Views")
    window.tabs.addTab(strip_scroll, "Attribution")
    window.tabs.addTab(window.compare_view, "Compare")
    window.tabs.addTab(window.matrix_view, "Generation matrix")
    from ..series.tab import SeriesTab

    window.series_tab = SeriesTab(window.worker, window.holder)
    window.tabs.addTab(window.series_tab, "Time series")
    center = QWidget()
    cv = QVBoxLayout(center)
    cv.addWidget(window.view_controls)
    cv.addWidget(window.message)
    cv.addWidget(window.progress)
    cv.addWidget(window.tabs, 1)
    window.distribution = DistributionPanel()
    window.cost_panel = CostPanel()
    right = QWidget()
    rv = QVBoxLayout(right)
    rv.addWidget(window.distribution, 1)
    rv.addWidget(window.cost_panel)
    split = QSplitter()
    left_column = QWidget()  # the panels scroll; the run buttons stay in view below them
    cv_left = QVBoxLayout(left_column)
    cv_left.addWidget(scrolled(left), 1)
    cv_left.addWidget(window.prompt_panel.actions)
    # the right column is as wide as its panels need beside a vertical scroll bar: after a run
    # the cost table's figures widen it ~10 px (the middle column gives them); past 30 px (a
    # table of unusually long figures) it scrolls sideways: the window's minimum stays ≤ 1,280
    right_area = scrolled(right, growth=30)
    for w in (left_column, center, right_area):
        split.addWidget(w)
    window.tab_columns = [window.model_panel, window.prompt_panel, window.prompt_panel.actions,
                          center, right]  # Tab goes through them in this order
    split.setSizes(list(DEFAULT_SIZES))
    split.setStretchFactor(1, 1)
    split.setChildrenCollapsible(False)
    window.splitter = split
    window.setCentralWidget(split)
    from .menus import build_menus

    build_menus(window)
    window.statusBar().showMessage("Starting…")
