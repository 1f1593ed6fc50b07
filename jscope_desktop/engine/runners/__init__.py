"""Many items: the data-set reader and resumable output of ``jscope batch`` (:mod:`.batch`) and
the Ray pool that runs items on workers, each loading the model once (:mod:`.ray_pool`,
planned by :mod:`.cluster`)."""
