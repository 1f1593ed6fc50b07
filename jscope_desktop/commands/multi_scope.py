"""`jscope attribute PROMPT --scope a,b,c | all`: several scopes on one forward graph, written
as the multi-scope contract (DESIGN.md, "Several scopes in one run")."""

from __future__ import annotations

import os
import sys

from ..engine.errors import EMPTY_PROMPT, JScopeError
from ..engine.io import could_not_write, user_path
from ..engine.request import RequestError

SCOPE_HELP = ("the scope to run, or several separated by commas (e.g. semantic,fisher), or "
              "'all' for every registered scope; several scopes run on one forward graph with "
              "one batched backward pass and write the multi-scope contract "
              "(results, agreement, timing)")


class ScopeChoices(list):
    """The scope names as ``--scope``'s choices: a single name must be one of them (argparse
    refuses another in its usual way), while a comma list or ``all`` passes to
    :func:`~jscope_desktop.engine.multi.parse_scopes`, which checks every name."""

    def __contains__(self, value) -> bool:
        return (isinstance(value, str) and wants_several(value)) or list.__contains__(self, value)


def wants_several(scope: str) -> bool:
    """True when ``--scope`` names several scopes (a comma) or ``all``."""
    return "," in scope or scope.strip() == "all"


def run_several(args, prompt: str, flags: dict[str, str]) -> int:
    """Check the scopes and the options (usage errors exit 2), load the model, run all scopes
    in one pass, write the JSON/image/page or print the terminal view."""
    from ..engine.multi import check_scopes, parse_scopes
    from .attribute import build_request, load_model
    from .options import check_outputs, chosen_image, progress_status

    try:
        names = parse_scopes(args.scope)
        request = build_request(args, prompt, scope=names[0])
        check_scopes(request, names, refuse_unused=True)
    except RequestError as exc:
        args.usage_error(exc.sentence(flags))
    if not prompt.strip():
        raise JScopeError(EMPTY_PROMPT)
    image = chosen_image(args)
    check_outputs(args.json, image and image[1], html=args.html)
    from ..engine.multi import attribute_many

    with progress_status() as progress:
        lm = load_model(args.model, args.device, args.dtype, progress=progress)
        multi = attribute_many(lm, request, names, progress=progress,
                               memory_limit=args.memory_limit, force=args.force)
    if args.json == "-":
        sys.stdout.write(multi.to_json() + "\n")
    elif args.json:
        multi.save(args.json)
    if args.html:
        _save_page(multi, args.html)
    if image:
        _save_image(multi, image[1])
    if not args.json:
        from ..render.terminal_multi import print_multi

        print_multi(multi)
    return 0


def _save_page(multi, path) -> None:
    try:
        from ..render.html_multi import save_multi_html
    except ImportError as exc:
        raise JScopeError(f"Web-page export is not available here: {exc}.") from exc
    save_multi_html(multi, path)


def _save_image(multi, path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from ..render.multi_strip import save_multi_image
    except ImportError as exc:
        raise JScopeError(f"Image export is not available here: {exc}.") from exc
    try:
        save_multi_image(multi, user_path(path))
    except OSError as exc:
        raise could_not_write(path, exc) from exc
