"""pack-layer: what installing a project added to a venv, gathered as one layer.

pack's project stage installs the project on top of the dependencies' venv and hands
the final image only what that install added: the project's files, their bytecode,
its console scripts' links and snakepacker's lists. The project is untrusted, and so
are the names of the files it makes: a name may hold a line break, a tab or anything
but a slash and NUL. Lists of names are never written as lines here; the state before
the install is kept as JSON, the gathering is done by walking and copying in Python,
and only paths under the roots named on the command line are ever gathered (links are
copied as links, never followed out of them).

Every file gathered, and with ``scan`` every file of a tree, is searched for the build's
secrets: the credentials in the package index's URL (``--secret-url``: the build secret
that holds it). A file that holds one stops the build, naming the file, never the
secret. So what a hostile setup.py copies out of /run/secrets never reaches an image.

    pack-layer snapshot STATE ROOT...
    pack-layer gather STATE LAYER --root ROOT... [--whole ROOT...] [--compile]
                      [--secret-url FILE] [--elf-flag FILE]
    pack-layer links LAYER VENV SCRIPTS
    pack-layer scan [--secret-url FILE] ROOT...

Standard library only, CPython 3.7 and later: it runs on the family's interpreters.
"""

import argparse
import contextlib
import json
import os
import py_compile
import re
import shutil
import stat
import sys
from urllib.parse import unquote, urlsplit

# A console script's name as it may become a file in /usr/bin: no slash, no dot
# directory, nothing a shell or a path would read as more than a name.
SCRIPT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*\Z")
CHUNK = 1 << 20


class Refused(Exception):
    """The build must stop: what this says is printed as one line."""


def _entries(root):
    """(path, lstat) of everything under ROOT except ROOT itself; links not followed."""
    for current, dirs, files in os.walk(root):
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(current, name)
            yield path, os.lstat(path)


def _state(roots):
    state = {}
    for root in roots:
        if os.path.lexists(root):
            for path, info in _entries(root):
                state[path] = [info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino]
    return state


def snapshot(state_file, roots):
    with open(state_file, "w", encoding="utf-8", errors="surrogateescape") as handle:
        json.dump(_state(roots), handle, ensure_ascii=True)


def _load(state_file):
    with open(state_file, encoding="utf-8", errors="surrogateescape") as handle:
        return json.load(handle)


def _changed(before, after):
    """The paths of AFTER that are new or changed since BEFORE (directories aside)."""
    return sorted(path for path, info in after.items()
                  if not stat.S_ISDIR(info[0]) and before.get(path) != info)


def _compile(paths):
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    for path in paths:
        if path.endswith(".py") and os.path.isfile(path) and not os.path.islink(path):
            # A file that is not Python 3 (a template, a test fixture) stays as it is.
            with contextlib.suppress(py_compile.PyCompileError):
                py_compile.compile(path, doraise=True, invalidation_mode=mode)


def credentials(url):
    """The secret parts of URL: the password of its user part, or the user part itself
    when it has no password (a token); as written and percent-decoded, as bytes. Parts
    shorter than 4 characters are too common to look for."""
    parts = urlsplit(url.strip())
    if parts.password:
        found = [parts.password]
    elif parts.username:
        found = [parts.username]
    else:
        return []
    out = []
    for text in found:
        for form in (text, unquote(text)):
            raw = form.encode("utf-8", "surrogateescape")
            if len(raw) >= 4 and raw not in out:
                out.append(raw)
    return out


def _read_needles(paths):
    needles = []
    for path in paths or ():
        if os.path.isfile(path) and os.path.getsize(path):
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                needles += credentials(handle.read())
    return needles


def _holds(path, needles):
    """Whether the regular file PATH holds one of NEEDLES (read in overlapping chunks)."""
    keep = max(len(needle) for needle in needles) - 1
    tail = b""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return False
            window = tail + chunk
            if any(needle in window for needle in needles):
                return True
            tail = window[-keep:] if keep else b""


def scan(roots, needles):
    """Refused when a regular file under ROOTS holds one of NEEDLES."""
    if not needles:
        return
    for root in roots:
        for path, info in _entries(root) if os.path.isdir(root) else []:
            if stat.S_ISREG(info.st_mode) and _holds(path, needles):
                raise Refused("%s holds a secret of this build (the package index's "
                              "credentials); it must not reach an image" % _shown(path))


def _shown(path):
    return path.encode("unicode_escape", "backslashreplace").decode("ascii")


def _inside(path, roots):
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _copy_into(layer, path):
    """PATH (absolute) into LAYER at the same path: a link as a link, a file's bytes and
    permission bits without setuid, setgid or sticky."""
    target = os.path.join(layer, path.lstrip("/"))
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        os.makedirs(parent)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(path), target)
    elif stat.S_ISREG(info.st_mode):
        shutil.copyfile(path, target)
        os.chmod(target, stat.S_IMODE(info.st_mode) & 0o777)
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))


def _is_elf(path):
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


def links(layer, venv, scripts_file):
    """A link in LAYER/usr/bin to each console script SCRIPTS_FILE names (one name a
    line, as written by snakepacker's probe), unless the system has that program."""
    with open(scripts_file, encoding="utf-8", errors="surrogateescape") as handle:
        names = [line.strip() for line in handle if line.strip()]
    for name in names:
        if not SCRIPT_NAME.match(name):
            raise Refused("the console script name %s is not a plain file name" % _shown(name))
        if os.path.lexists(os.path.join("/usr/bin", name)):
            continue
        target = os.path.join(layer, "usr", "bin", name)
        if not os.path.isdir(os.path.dirname(target)):
            os.makedirs(os.path.dirname(target))
        if not os.path.lexists(target):
            os.symlink(os.path.join(venv, "bin", name), target)


def _new_files(args):
    """What the install added under the --root trees (compiled first with --compile),
    and everything under the --whole trees."""
    roots = [os.path.abspath(root) for root in args.root]
    whole = [os.path.abspath(root) for root in args.whole or ()]
    before = _load(args.state)
    after = _state(roots)
    removed = sorted(path for path in before if path not in after and _inside(path, roots))
    if removed:
        raise Refused("installing the project removed files of its dependencies: %s"
                      % ", ".join(_shown(p) for p in removed[:3]))
    everything = _state(whole)
    if args.compile:
        _compile(_changed(before, after) + _changed({}, everything))
        after, everything = _state(roots), _state(whole)
    new = [path for path in _changed(before, after) if _inside(path, roots)]
    return new + _changed({}, everything)


def gather(args):
    new = _new_files(args)
    needles = _read_needles(args.secret_url)
    for path in new:
        if needles and not os.path.islink(path) and os.path.isfile(path) \
                and _holds(path, needles):
            raise Refused("%s holds a secret of this build (the package index's "
                          "credentials); it must not reach an image" % _shown(path))
    if not os.path.isdir(args.layer):
        os.makedirs(args.layer)
    for path in new:
        _copy_into(args.layer, path)
    if args.elf_flag and any(_is_elf(path) for path in new):
        open(args.elf_flag, "w").close()


def _parser():
    parser = argparse.ArgumentParser(prog="pack-layer", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    snap = commands.add_parser("snapshot", help="record the trees ROOTS before the install")
    snap.add_argument("state")
    snap.add_argument("roots", nargs="+")
    gath = commands.add_parser("gather", help="copy what changed under the roots into LAYER")
    gath.add_argument("state")
    gath.add_argument("layer")
    gath.add_argument("--root", action="append", required=True,
                      help="a tree whose new and changed files are gathered")
    gath.add_argument("--whole", action="append", help="a tree gathered whole")
    gath.add_argument("--compile", action="store_true", help="compile new .py files first")
    gath.add_argument("--secret-url", action="append",
                      help="a file holding a URL whose credentials no file may hold")
    gath.add_argument("--elf-flag", help="made when a gathered file is an ELF file")
    lnk = commands.add_parser("links", help="link the console scripts into LAYER/usr/bin")
    lnk.add_argument("layer")
    lnk.add_argument("venv")
    lnk.add_argument("scripts")
    scn = commands.add_parser("scan", help="fail when a file under ROOTS holds a secret")
    scn.add_argument("--secret-url", action="append")
    scn.add_argument("roots", nargs="+")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "snapshot":
            snapshot(args.state, [os.path.abspath(root) for root in args.roots])
        elif args.command == "gather":
            gather(args)
        elif args.command == "links":
            links(args.layer, args.venv, args.scripts)
        elif args.command == "scan":
            scan([os.path.abspath(root) for root in args.roots],
                 _read_needles(args.secret_url))
        else:
            _parser().print_usage(sys.stderr)
            return 2
    except Refused as exc:
        sys.stderr.write("snakepacker: %s\n" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
