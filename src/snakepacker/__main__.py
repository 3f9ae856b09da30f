import sys

from snakepacker.cli import main

sys.exit(main())
