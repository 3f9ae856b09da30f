"""snakepacker: pack Python applications into compact container images."""

__version__ = "0.1.0"
