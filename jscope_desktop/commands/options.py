"""Options and checks every `jscope` subcommand shares: the model, the image formats (from the
render layer's one format table), the prompt argument and the outputs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..engine.errors import JScopeError, out_of_memory_sentence
from ..engine.io import check_distinct, check_writable
from ..engine.model.choices import DEVICE_NAMES
from ..engine.model.dtype import DTYPE_CHOICES
from ..engine.results.multi_result import MultiScopeResult
from ..engine.results.result import AttributionResult
from ..render.core.view_options import MODES, ScaleExclusion
from ..render.figures.formats import image_formats, with_suffix_of
from ..render.outputs import save_page, save_picture


def load_model(*args, **kwargs):
    """:func:`jscope_desktop.engine.model.load.load_model` for a command: imported when a model is
    first loaded (torch takes seconds to import: a run refused before loading never pays for it),
    and, for a model whose runs cannot be estimated, :data:`~..engine.planning.cost_model.NO_ESTIMATE`
    said once on stderr (the run goes ahead)."""
    from ..engine.model.load import load_model as load
    from ..engine.planning.calibration import estimate_note

    lm = load(*args, **kwargs)
    note = estimate_note(lm)
    if note:
        print(f"jscope: {note}", file=sys.stderr)
    return lm


def add_model_options(p) -> None:
    """--model, --device and --dtype."""
    p.add_argument("--model", help="model folder or .gguf file (default: the embedded model)")
    p.add_argument("--device", default="auto", choices=DEVICE_NAMES)
    p.add_argument("--dtype", default="float32", choices=list(DTYPE_CHOICES),
                   help="float32 (default), bfloat16, float16, or auto: float32 when the weights "
                   "fit in it, else the checkpoint's own half dtype")


def add_image_options(p, what: str = "an annotated picture") -> None:
    """One mutually exclusive option per image format of the format table (--png, --svg, --pdf)."""
    images = p.add_mutually_exclusive_group()
    for fmt in image_formats():
        images.add_argument(f"--{fmt}", metavar="FILE", help=f"save {what} as {fmt.upper()}")


def add_exclude_option(p) -> None:
    """--exclude-from-scale first|special|template|I,J,K: the attention-sink control of the
    pictures, the web page and the terminal view (the JSON keeps every score)."""
    p.add_argument("--exclude-from-scale", metavar="SET", type=exclusion, default=ScaleExclusion(),
                   help=f"leave tokens out of the colour scale and the top list of the picture, "
                   f"web page and terminal view: {', '.join(MODES)}, token indices I,J,K (from 0, "
                   "as in the JSON; negative counts from the end; captions count from 1), or a "
                   "mix (first,5); the stored scores are not changed (the paper's attention-sink "
                   "caveat: early tokens can look important)")


def exclusion(text: str) -> ScaleExclusion:
    """An argparse type: a :class:`ScaleExclusion` read from its text."""
    try:
        return ScaleExclusion.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from exc


def positive_integer(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def chosen_image(args) -> tuple[str, Path] | None:
    """(format, path with that suffix) of the image option given, if any."""
    for fmt in image_formats():
        if getattr(args, fmt, None):
            return fmt, image_path(getattr(args, fmt), fmt)
    return None


def add_html_option(p) -> None:
    """--html FILE: a self-contained interactive web page of the result (no network reference)."""
    p.add_argument("--html", metavar="FILE", help="also write a self-contained web page (hover "
                   "a token for its score; the result JSON is embedded)")


def check_outputs(json_path: str | None, image: Path | None, inputs=(), html=None) -> None:
    """Before any work: every output can be written, and none lands on another or on an input."""
    check_distinct([json_path, image, html], inputs)
    for path in (json_path, image, html):
        check_writable(path)


def read_prompt(text: str, stdin=None) -> str:
    """The prompt: ``text`` itself, or stdin's UTF-8 text for ``-`` minus one trailing newline."""
    if text != "-":
        return text
    stream = stdin or sys.stdin
    try:
        data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        prompt = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise JScopeError("The prompt on stdin is not UTF-8 text.") from exc
    except OSError as exc:  # stdin closed, or a folder redirected into it (`< /`)
        raise JScopeError(f"Could not read the prompt from stdin: {exc.strerror or exc}.") from exc
    return prompt.removesuffix("\n").removesuffix("\r")


@contextmanager
def progress_status() -> Iterator[Callable[[float, str], None] | None]:
    """A progress bar with the engine's messages and the time left (from the cost model's
    estimate, then from the measured rate) on stderr, when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn
    from rich.text import Text

    from ..engine.planning.cost_model import format_seconds
    from ..engine.progress import TimedProgress

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return

    shown: dict = {}  # the bar and its task, once the bar is on screen
    timed = TimedProgress(lambda f, message, _left: shown["bar"].update(
        shown["task"], completed=100 * f, description=message))

    class Left(ProgressColumn):
        def render(self, task) -> Text:  # re-rendered ten times a second: the time counts down
            left = timed.remaining(task.completed / 100) if timed.expected is not None else None
            return Text("" if left is None else f"{format_seconds(left)} left", style="cyan")

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), Left(), console=console,
                  transient=True) as bar:
        shown.update(bar=bar, task=bar.add_task("Starting", total=100))
        yield timed


def image_path(path: str | Path, fmt: str) -> Path:
    """``path`` with the suffix of ``fmt``: added to a name without one ("a" → "a.png"); a name
    that ends in another suffix ("a.txt") is refused in one sentence, never written as
    "a.txt.png" behind the user's back."""
    suffix = Path(path).suffix
    if suffix and suffix.lower() != f".{fmt}":
        raise JScopeError(f"--{fmt} {Path(path).name}: the name ends in {suffix}, not .{fmt}; "
                          f"name the file {Path(path).stem}.{fmt}.")
    return with_suffix_of(path, fmt)


# the out-of-memory advice in the words of this command line
OOM_WORDS = {"fisher_fast": "--fisher fast", "fewer_steps": "fewer --steps",
             "bfloat16": "--dtype bfloat16", "cpu": "--device cpu"}


def oom_sentence(args: argparse.Namespace) -> str:
    """What to change after running out of memory, given the options that were used."""
    return out_of_memory_sentence(
        scope=getattr(args, "scope", ""), fisher_method=getattr(args, "fisher", None),
        dtype=getattr(args, "dtype", None), device=getattr(args, "device", None), words=OOM_WORDS)


def write_outputs(result: AttributionResult | MultiScopeResult, json_path: str | None,
                  image: tuple[str, Path] | None, html: str | None = None,
                  exclude=None) -> None:
    """Write a result of any kind: the JSON contract (``-``: stdout), then the image and the web
    page (if asked; ``render.outputs`` picks the picture and page for the kind);
    ``exclude`` (a ``render.core.view_options.ScaleExclusion``) is the pictures' attention-sink
    control, the JSON keeps every score."""
    if json_path == "-":  # the data first: a picture that fails never costs the result
        sys.stdout.write(result.to_json() + "\n")
    elif json_path:
        result.save(json_path)
    if html:
        save_page(result, html, exclude=exclude)
    if image:
        save_picture(result, image[1], exclude=exclude.to_text() if exclude is not None else "")
