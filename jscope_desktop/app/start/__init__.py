"""Starting the app: the ``jscope-desktop`` entry point and its options, the system-library
check that runs before Qt loads, and the self-test the frozen bundle runs."""
