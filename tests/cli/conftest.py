"""`jscope`: every subcommand in-process, outputs and one-line errors for everything a user can cause."""
