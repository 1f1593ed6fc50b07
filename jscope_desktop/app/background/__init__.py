"""Work off the GUI thread: the worker (one Job handle per job, its own signals and cancel),
the jobs it runs, the estimate beside Run, the countdown, and the numbers panels compute."""
