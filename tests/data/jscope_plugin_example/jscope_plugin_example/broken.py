"""A plugin whose import fails, as a broken third-party package would."""

raise ImportError("this plugin needs a package that is not installed")
