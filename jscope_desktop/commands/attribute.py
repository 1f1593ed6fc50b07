"""`jscope attribute`: explain one prediction (JSON, an image, or a terminal view)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..engine.attribute import AttributionRequest, attribute
from ..engine.errors import JScopeError, is_out_of_memory
from ..engine.fisher import DEFAULT_PROBES, DEFAULT_RANK, FISHER_METHODS
from ..engine.models import DEVICES, DTYPES, load_model
from ..engine.result import AttributionResult
from ..engine.scopes import SCOPES, scope_names

IMAGE_FORMATS = ("png", "svg", "pdf")


def add_parser(sub) -> None:
    """Register ``attribute`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "attribute", help="explain which input tokens caused a prediction",
        description="Explain which input tokens caused a model's next-token prediction.",
    )
    p.add_argument("prompt", help="the prompt text, or - to read it from stdin "
                   "(one trailing newline is dropped)")
    p.add_argument("--scope", default="temperature", choices=scope_names())
    p.add_argument("--target", help="text of one token to explain, leading space included "
                   "(default: the top prediction); for semantic, contrast, grad_input, integrated")
    p.add_argument("--foil", help="text of one token to contrast with (contrast; default: the "
                   "second most probable token)")
    p.add_argument("--position", type=int, help="index into the tokens (special tokens "
                   "included; negative counts from the end) whose next-token prediction is "
                   "explained (default: the last)")
    p.add_argument("--model", help="model folder or .gguf file (default: the embedded model)")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--dtype", default="float32", choices=list(DTYPES))
    p.add_argument("--fisher", default="fast", choices=FISHER_METHODS,
                   help="Fisher method (fisher scope; default: fast)")
    p.add_argument("--fisher-rank", type=positive_integer, metavar="K",
                   help=f"exact eigen-directions of F (fast: {DEFAULT_RANK['fast']}, "
                        f"lowrank: {DEFAULT_RANK['lowrank']})")
    p.add_argument("--fisher-probes", type=positive_integer, default=DEFAULT_PROBES, metavar="N",
                   help=f"random probes of the rest of F (fast; default: {DEFAULT_PROBES})")
    p.add_argument("--fisher-error", type=float, metavar="E",
                   help="add probes until the estimated relative error is at most E (fast)")
    p.add_argument("--steps", type=positive_integer, default=16, help="integrated: steps along the path")
    p.add_argument("--seed", type=int, default=0, help="seed of the Fisher probes")
    p.add_argument("--top-k", type=positive_integer, default=10, help="predictions kept in the result")
    p.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template")
    p.add_argument("--json", metavar="FILE", help="write the result (JSON contract) to FILE "
                   "(- for stdout) instead of printing the terminal view")
    images = p.add_mutually_exclusive_group()
    for fmt in IMAGE_FORMATS:
        images.add_argument(f"--{fmt}", metavar="FILE", help=f"save an annotated {fmt.upper()}")
    p.set_defaults(run=run, usage_error=p.error)


def positive_integer(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run(args) -> int:
    """Load the model, run the scope, then write the JSON/image or print the terminal view."""
    _check_options(args)
    prompt = read_prompt(args.prompt)
    if not prompt.strip():  # the engine says the same; saying it before loading saves seconds
        raise JScopeError("The prompt is empty; type some text to explain.")
    image = next(((fmt, getattr(args, fmt)) for fmt in IMAGE_FORMATS if getattr(args, fmt)), None)
    check_writable(args.json)
    check_writable(image and image_path(image[1], image[0]))
    request = AttributionRequest(
        prompt=prompt, scope=args.scope, target=args.target, foil=args.foil,
        position=args.position, chat=args.chat, fisher_method=args.fisher,
        fisher_rank=args.fisher_rank, fisher_probes=args.fisher_probes,
        fisher_rel_error=args.fisher_error, ig_steps=args.steps, seed=args.seed,
        top_k=args.top_k,
    )
    with _status() as progress, out_of_memory_advice(args):
        lm = load_model(args.model, args.device, args.dtype, progress=progress)
        result = attribute(lm, request, progress=progress)
    if image:
        save_image_file(result, Path(image[1]), image[0])
    if args.json:
        write_json(result, args.json)
    else:
        from ..render.terminal import print_result

        print_result(result)
    return 0


def _check_options(args) -> None:
    """Refuse options the chosen scope would silently ignore (a usage error, exit 2)."""
    scope = SCOPES[args.scope]
    if args.target is not None and not scope.needs_target:
        users = ", ".join(n for n, s in SCOPES.items() if s.needs_target)
        args.usage_error(f"--target is not used by the {scope.label} Scope (it explains the "
                         f"whole prediction); it applies to {users}")
    if args.foil is not None and not scope.needs_foil:
        args.usage_error("--foil is used only by --scope contrast")
    if args.fisher_error is not None and not 0 < args.fisher_error < 1:
        args.usage_error("--fisher-error must be between 0 and 1 (e.g. 0.05 for 5 %)")


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
    return prompt.removesuffix("\n").removesuffix("\r")


@contextmanager
def _status() -> Iterator[Callable[[float, str], None] | None]:
    """A spinner with the engine's progress messages on stderr, when stderr is a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    with console.status("Starting") as status:
        yield lambda fraction, message: status.update(f"{message} ({fraction:.0%})")


@contextmanager
def out_of_memory_advice(args) -> Iterator[None]:
    """Turn running out of memory (GPU or CPU) into one sentence saying what to change."""
    try:
        yield
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        raise JScopeError(oom_sentence(args)) from exc


def oom_sentence(args) -> str:
    """What to change after running out of memory, given the options that were used."""
    tips = ["a shorter prompt"]
    if args.scope == "fisher" and args.fisher == "exact":
        tips.append("--fisher fast")
    if args.scope == "integrated":
        tips.append("fewer --steps")
    if args.dtype == "float32":
        tips.append("--dtype bfloat16")
    if args.device != "cpu":
        tips.append("--device cpu")
    return f"Out of memory; try {', '.join(tips[:-1])} or {tips[-1]}." if len(tips) > 1 else \
        f"Out of memory; try {tips[0]}."


def write_json(result: AttributionResult, path: str) -> None:
    """Write the JSON contract to ``path`` (``-``: stdout), or raise a one-sentence error."""
    if path == "-":
        sys.stdout.write(result.to_json() + "\n")
        return
    try:
        result.save(path)
    except OSError as exc:
        raise JScopeError(f"Could not write {path}: {exc.strerror or exc}.") from exc


def save_image_file(result: AttributionResult, path: Path, fmt: str) -> None:
    """Save the annotated picture of ``result`` through the render layer's exporter."""
    # The exporter paints with Qt; a command line never shows a window.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        export = importlib.import_module("jscope_desktop.render.export")
    except ImportError as exc:  # a bare machine may lack Qt's system libraries
        raise JScopeError(f"Image export is not available here: {exc}.") from exc
    try:
        export.save_image(result, image_path(path, fmt))
    except OSError as exc:
        raise JScopeError(f"Could not write {path}: {exc.strerror or exc}.") from exc


def image_path(path: str | Path, fmt: str) -> Path:
    """``path`` with the suffix of ``fmt`` (added when the name has another one)."""
    path = Path(path)
    return path if path.suffix.lower() == f".{fmt}" else path.with_name(path.name + f".{fmt}")


def check_writable(path: str | Path | None) -> None:
    """Fail before the (slow) computation when ``path`` cannot be written: its folder is
    missing, or it is a folder."""
    if path is None or str(path) == "-":
        return
    path = Path(path).expanduser()
    if path.is_dir():
        raise JScopeError(f"Cannot write {path}: it is a folder.")
    if not path.resolve().parent.is_dir():
        raise JScopeError(f"Cannot write {path}: the folder {path.resolve().parent} does not exist.")
