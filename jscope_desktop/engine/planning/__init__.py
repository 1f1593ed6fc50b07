"""What a run will cost before it starts: the cost model (counted from the model's shape and
the scope's plan) and its calibration on this machine (measured throughputs, kept per model,
device and dtype)."""
