"""The arithmetic of the scopes: the kept forward graph and its batched backward passes, the
output head, and the Fisher Scope (exact, low-rank and fast). Asks no planner: the batch bound
it shares with the cost model lives in :mod:`.batching`."""
