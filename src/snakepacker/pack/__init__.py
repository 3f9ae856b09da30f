"""`snakepacker pack`: one command from a Python project or requirement to a compact image."""
