"""snakepacker's example app: imports its compiled dependencies and says what they are."""

from __future__ import annotations

import sys


def main() -> int:
    import PIL
    import psycopg2
    import psycopg2.extensions
    from PIL import Image, features

    image = Image.new("RGB", (8, 8), "teal")
    print(f"demo-app on Python {sys.version.split()[0]}")
    print(f"psycopg2 {psycopg2.__version__.split()[0]}, "
          f"libpq {psycopg2.extensions.libpq_version()}")
    print(f"pillow {PIL.__version__}, a {image.size[0]}x{image.size[1]} "
          f"{image.mode} image, jpeg {features.check('jpg')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
