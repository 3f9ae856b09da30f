import sys

from snakepacker.cli.main import main

sys.exit(main())
