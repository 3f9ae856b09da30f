"""The command line: main.py puts together one module per command."""
