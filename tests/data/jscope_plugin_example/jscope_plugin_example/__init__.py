"""Two plugin scopes: a Scope object and a callable returning one (both forms are allowed)."""

from jscope_desktop.engine.scopes import DirectionScope

SCOPE = DirectionScope(
    name="twice_temperature", label="Twice Temperature",
    explanation="Twice the Temperature Scope.",
    direction=lambda pred: 2 * pred.h / pred.h.norm(),   # u (d,); score_t = ‖J_tᵀ u‖₂
    needs_target=False, needs_foil=False,
)


def make_scope():
    """The gradient of the target's logit minus the mean logit (a plugin that needs a target)."""
    return DirectionScope(
        "target_vs_mean", "Target vs mean", "‖J_tᵀ (w_target − mean_v w_v)‖.",
        direction=lambda pred: pred.W[pred.target_id] - pred.W.mean(0), needs_target=True,
    )


NOT_A_SCOPE = 42
