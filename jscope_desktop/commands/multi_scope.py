"""`jscope attribute PROMPT --scope a,b,c | all`: several scopes on one forward graph, written
as the multi-scope contract (DESIGN.md, "Several scopes in one run")."""

from __future__ import annotations

from ..engine.errors import EMPTY_PROMPT, JScopeError
from ..engine.results.request import RequestError


def run_several(args, prompt: str, flags: dict[str, str], load_model) -> int:
    """Check the scopes and the options (usage errors exit 2), load the model with
    ``load_model`` (the attribute command's), run all scopes in one pass, write the
    JSON/image/page or print the terminal view."""
    from ..engine.explain.multi import check_scopes, parse_scopes
    from .options import check_outputs, chosen_image, progress_status
    from .requests import build_request

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
    from ..engine.explain.multi import attribute_many

    with progress_status() as progress:
        lm = load_model(args.model, args.device, args.dtype, progress=progress)
        multi = attribute_many(lm, request, names, progress=progress,
                               memory_limit=args.memory_limit, force=args.force)
    from .options import write_outputs

    write_outputs(multi, args.json, image, args.html)
    if not args.json:
        from ..render.core.terminal_multi import print_multi

        print_multi(multi)
    return 0

