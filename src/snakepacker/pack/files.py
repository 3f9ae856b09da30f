"""The project's own files, as pack reads them on the host.

A project is untrusted input: a ``requirements.txt`` or ``.python-version`` that is a
link to ``/proc/self/environ`` or to a key elsewhere on the host would be read on the
host, and a message quoting its first line would print what it holds. So a file the
project names is read only when it resolves to a regular file inside the project; a
name that leaves it, by ``..``, an absolute path or a link, is refused.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from snakepacker.errors import UsageError


def project_file(root: Path, name: str) -> Path | None:
    """ROOT/NAME resolved, when it is a regular file inside ROOT; None when there is no
    such file; UsageError when NAME or a link on its way leads out of ROOT."""
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise UsageError(f"{name!r}: not a path inside the project")
    path = root / relative
    if not path.exists() and not path.is_symlink():
        return None
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UsageError(f"{name}: it is a link that leads out of the project")
    return resolved if resolved.is_file() else None


def read_project_file(root: Path, name: str) -> str | None:
    """The text of ROOT/NAME (see project_file), or None when there is no such file."""
    path = project_file(root, name)
    return None if path is None else path.read_text(errors="replace")
