"""Loading a model and reading what it is: the loader (a folder or a ``.gguf``, converted once
into a cache), the checks a model folder must pass before anything in it is read, the dtype and
device chosen, the model's shape, memory, and the tokens of a prompt. Imports no other room."""
