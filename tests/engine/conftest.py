"""The engine, room by room (model, compute, scopes, results, planning, explain, series,
faithfulness), on tiny random models and the embedded one; references never use the engine's
own code."""
