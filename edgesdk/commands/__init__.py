"""CLI subcommands, one module per area; each exposes ``register(subparsers)``.

``edgesdk.cli`` lists the modules explicitly (``COMMAND_MODULES``). A subcommand module sits on
top of the layers it drives and imports its heavy dependencies lazily, inside the handler, so
``edgesdk --help`` stays fast.
"""
