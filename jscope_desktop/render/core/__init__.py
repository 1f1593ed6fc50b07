"""The render layer's Qt-free core: colour maps as numbers, captions and words, units (words,
sentences), view options (the attention-sink control), the web pages, the series view's data and
the terminal views. It works where Qt cannot be imported (a Jupyter server without libGL): the
"render-core-no-qt" contract keeps it so."""
