"""Running the scopes: one scope on one prediction (:mod:`.attribute`), several on one graph
(:mod:`.multi`), and the generation matrix (:mod:`.generation`)."""
