"""The commit and commit time of a checkout, read with a git that runs nothing else.

Provenance labels name the commit an image was made from and take their time from it
(SOURCE_DATE_EPOCH wins when set). For a packed project that checkout is untrusted:
its ``.git`` came with the pull request. A project directory that is itself a bare
repository (HEAD, config and objects/ committed as plain files) would be found by git's
discovery, and its config can name programs git runs: ``gpg.program`` behind
``log.showSignature``, ``core.fsmonitor``, a pager, a textconv driver. So git is asked
only about a ``.git`` directory at the root itself (never discovered, never a ``.git``
file pointing elsewhere), with the system and global config ignored, the settings that
run programs overridden on the command line (which wins over the repository's config),
and one plumbing command, ``cat-file``, that shows no signature, runs no hook and reads
no index.

What comes back is read as data: a commit's bytes need not be UTF-8 (names in Latin-1
are common in old repositories, and anything can be written with ``hash-object
--literally``), and its time is taken only when it is a plain run of ASCII digits that
a date can hold. Anything else is no time at all, never an error and never text that
reaches a label.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# Settings that would make git start another program, each turned off; the command
# line's -c wins over every config file the repository brings.
_HARDENING = (
    "safe.bareRepository=explicit",
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.sshCommand=false",
    "core.askPass=false",
    "credential.helper=",
    "log.showSignature=false",
    "gpg.program=false",
    "gpg.ssh.program=false",
    "gpg.x509.program=false",
    "diff.external=",
    "protocol.allow=never",
)
_SECONDS = 30
# Seconds since the epoch, in ASCII digits only (str.isdigit() also takes "²" and
# other digits int() refuses), up to the last second of 9999, the last an RFC 3339
# date can name.
_EPOCH = re.compile(r"[0-9]{1,12}")
_LAST_EPOCH = 253402300799


@dataclass(frozen=True)
class Commit:
    sha: str
    time: int  # committer time, seconds since the epoch


def _git_env(root: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_DIR": str(root / ".git"),
        "GIT_CEILING_DIRECTORIES": str(root.parent),
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PAGER": "cat",
        "LC_ALL": "C",
    }


def _git(root: Path, *args: str) -> str | None:
    command = ["git"]
    for setting in _HARDENING:
        command += ["-c", setting]
    try:
        proc = subprocess.run([*command, *args], cwd=root, env=_git_env(root),
                              capture_output=True, text=True, errors="replace",
                              timeout=_SECONDS, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def epoch(text: str) -> int | None:
    """TEXT as seconds since the epoch, or None when it is anything but ASCII digits for
    a second between 1970 and the end of 9999."""
    text = text.strip()
    if not _EPOCH.fullmatch(text):
        return None
    seconds = int(text)
    return seconds if seconds <= _LAST_EPOCH else None


def head_commit(root: Path | None) -> Commit | None:
    """The commit ROOT/.git's HEAD names, or None: no .git directory there (a .git file
    or a link pointing elsewhere counts as none), no git, or nothing it can read."""
    if root is None:
        return None
    git_dir = root / ".git"
    if git_dir.is_symlink() or not git_dir.is_dir():
        return None
    sha = (_git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") or "").strip()
    if len(sha) not in (40, 64) or not all(c in "0123456789abcdef" for c in sha):
        return None
    body = _git(root, "cat-file", "commit", sha) or ""
    for line in body.splitlines():
        if not line:
            break  # the headers end at the first empty line
        if line.startswith("committer "):
            seconds = epoch(line.rsplit(" ", 2)[-2])
            return Commit(sha, seconds) if seconds is not None else None
    return None


def last_commit(root: Path, paths: tuple[str, ...]) -> Commit | None:
    """The last commit of the checkout ROOT that touched PATHS (git pathspecs relative
    to ROOT), read the same way: for the family's labels, from snakepacker's own
    checkout when it runs from one."""
    git_dir = root / ".git"
    if git_dir.is_symlink() or not git_dir.is_dir():
        return None
    out = _git(root, "log", "-1", "--no-show-signature", "--format=%H %ct", "--", *paths)
    sha, _, stamp = (out or "").strip().partition(" ")
    seconds = epoch(stamp)
    return Commit(sha, seconds) if sha and seconds is not None else None


def source_date_epoch(commit: Commit | None, env: Mapping[str, str] | None = None) -> int:
    """SOURCE_DATE_EPOCH when set (to a time epoch() takes); else COMMIT's time; else 0."""
    env = os.environ if env is None else env
    given = epoch(env.get("SOURCE_DATE_EPOCH", ""))
    if given is not None:
        return given
    return commit.time if commit is not None else 0


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
