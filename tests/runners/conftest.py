"""Many items: `jscope batch` and the Ray pool of batch and faithfulness."""
