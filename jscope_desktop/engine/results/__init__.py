"""What goes in and what comes out: the request (one dataclass, checked once), the result
contracts and their JSON, the several-scope result, ranks, and a result's notebook display."""
