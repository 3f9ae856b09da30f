"""Helper tools shipped in every image: apt-install, wait-for-port, find-libdeps.

wait_for_port.py and find_libdeps.py are copied verbatim into images as
/usr/local/bin/wait-for-port and /usr/local/bin/find-libdeps, so they are
standard-library only and run on every CPython from 3.7 on.  apt_install.sh is
POSIX sh and is copied as /usr/local/bin/apt-install.  On a host the same three
are console scripts of the snakepacker package.

sysconfig_cc.py is not copied into images: a build stage that compiles CPython with
clang runs it (mounted from the build context) with the new interpreter, so it is
standard-library only for the same reason. So are collect_distroless.py and
pack_layer.py, which pack's Dockerfiles carry compressed and run with the image's
Python.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent

#: The files as they are copied into images, by the command name they get there.
TOOL_FILES: dict[str, Path] = {
    "apt-install": TOOLS_DIR / "apt_install.sh",
    "wait-for-port": TOOLS_DIR / "wait_for_port.py",
    "find-libdeps": TOOLS_DIR / "find_libdeps.py",
}

#: Scripts only build stages run, by their name in the build context's tools/.
STAGE_SCRIPTS: dict[str, Path] = {
    "sysconfig-cc": TOOLS_DIR / "sysconfig_cc.py",
}

#: Scripts pack's Dockerfiles carry inside themselves (compressed), by command name.
EMBEDDED_SCRIPTS: dict[str, Path] = {
    "collect-distroless": TOOLS_DIR / "collect_distroless.py",
    "pack-layer": TOOLS_DIR / "pack_layer.py",
}


def apt_install_main(argv: list[str] | None = None) -> int:
    """Console script `apt-install`: run the packaged apt_install.sh with /bin/sh."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        return subprocess.call(["/bin/sh", str(TOOL_FILES["apt-install"]), *argv])
    except KeyboardInterrupt:
        return 130
