"""collect-distroless: stage the files a packed app needs to run, for a FROM scratch image.

pack --distroless runs this in a build stage that stands on the app's ordinary final
image (apt step done, venv in place). It reads that image's dpkg database and copies
into a staging directory the files dpkg's own lists say some packages own, without
documentation, and some paths no package owns (the venv, a source-built CPython).

Which packages: those it is told to take (libc, CA certificates, time zone data,
dumb-init, the interpreter's own packages; --shallow), then, with --find-libdeps, the
owners of the libraries the staged ELF files need, found as the dynamic loader finds
them and followed until no staged file needs a library not staged (the transitive
soname closure). dpkg's Depends are not followed for these: they name what a package
needs to be installed and configured (data packages, a shared "base" package holding
only a copyright file), not what its code loads. Packages named with --package (a
program the user asked for) are taken with their Depends as dpkg resolves them
(Pre-Depends and Depends, the first installed alternative, virtual packages through
Provides). Packages that are tools of a system with a shell (dpkg, apt, perl, bash,
coreutils, ...) are never followed: a library's maintainer scripts need them, the
library does not.

--leave-out names interpreter extension modules (in lib-dynload) not to copy, with the
libraries only they need: in their place a small module raises ModuleNotFoundError
saying why, and how to keep them.

Beside the packages' files it writes what scanners and the C library look for: one
dpkg status stanza per package shipped under var/lib/dpkg/status.d/ (as distroless
does), /etc/passwd and /etc/group with root, nobody and the app's user, and a
world-writable /tmp. Paths not owned by any package (the venv, a source-built CPython,
the generated CA bundle) are copied as they are.

Standard library only; runs on CPython 3.7+. Paths through symbolic links (/lib on a
merged-/usr system) keep their links in the staging directory.
"""

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from typing import Dict, Iterable, List, Optional, Set, Tuple

# Never followed as a dependency: programs and maintainer-script machinery that a
# running app does not use. A seed named on the command line is taken all the same.
NOT_FOLLOWED = frozenset({
    "adduser", "apt", "base-passwd", "bash", "coreutils", "dash", "debconf",
    "debconf-2.0", "debianutils", "diffutils", "dpkg", "findutils", "grep", "gzip",
    "init-system-helpers", "install-info", "libc-bin", "login", "lsb-base", "mount",
    "openssl", "passwd", "perl", "perl-base", "perl-modules", "sed", "sensible-utils",
    "tar", "ucf", "usrmerge", "util-linux", "python3-minimal", "python3",
})
# Never copied out of a package: what only a person at a shell reads.
DROPPED_PREFIXES = (
    "/usr/share/doc/", "/usr/share/doc-base/", "/usr/share/man/", "/usr/share/info/",
    "/usr/share/lintian/", "/usr/share/locale/", "/usr/share/bug/", "/usr/share/menu/",
    "/usr/share/bash-completion/", "/usr/share/gdb/", "/usr/share/apport/",
    "/usr/lib/ssl/misc/",
)
# glibc's iconv modules (8 MB, mostly legacy and CJK code pages): Python's codecs are
# its own. Kept: iconv's configuration and the Unicode forms and Latin-1, which C
# libraries ask iconv for (UTF-8, UCS-2/4 and ASCII are built into libc).
GCONV = re.compile(r"^(/usr)?/lib/[^/]*-linux-gnu[^/]*/gconv/(?P<name>[^/]+)")
GCONV_KEPT = ("UTF-16.so", "UTF-32.so", "UTF-7.so", "UNICODE.so", "ISO8859-1.so")

Stanza = Dict[str, str]


def parse_status(text: str) -> Dict[str, Stanza]:
    """Installed packages of a dpkg status file, by name, each stanza's fields kept
    with its raw text under '' (for the status fragment)."""
    packages = {}  # type: Dict[str, Stanza]
    for block in text.split("\n\n"):
        block = block.strip("\n")
        if not block:
            continue
        fields = {"": block + "\n"}  # type: Stanza
        key = None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            packages[fields["Package"]] = fields
    return packages


def _name(word: str) -> str:
    """libfoo:any (>= 1.2) [amd64] -> libfoo; an apt pin (libfoo=1.2) -> libfoo"""
    return word.strip().split(" ")[0].split("(")[0].split(":")[0].split("=")[0].strip()


def _providers(packages: Dict[str, Stanza]) -> Dict[str, List[str]]:
    provided = {}  # type: Dict[str, List[str]]
    for name in sorted(packages):
        for item in packages[name].get("Provides", "").split(","):
            if item.strip():
                provided.setdefault(_name(item), []).append(name)
    return provided


def _alternatives(field: str) -> List[List[str]]:
    return [[_name(alt) for alt in group.split("|") if _name(alt)]
            for group in field.split(",") if group.strip()]


def closure(packages: Dict[str, Stanza], seeds: Iterable[str],
            not_followed: Iterable[str] = NOT_FOLLOWED,
            shallow: Iterable[str] = ()) -> Tuple[List[str], List[str]]:
    """The SEEDS and everything they depend on, as installed: (names, seeds missing).

    Of an alternative (a | b) the first one installed is taken; a virtual package is
    the first installed package that provides it. Names in NOT_FOLLOWED are left out
    unless they are seeds themselves. SHALLOW seeds are taken without what they
    depend on (an interpreter whose libraries find-libdeps named already)."""
    skip = set(not_followed)
    shallow_names = set(_name(s) for s in shallow)
    seeds = list(seeds) + sorted(shallow_names)
    provided = _providers(packages)
    taken: Set[str] = set()
    missing = []  # type: List[str]
    todo = []  # type: List[str]
    for seed in seeds:
        name = _name(seed)
        if name in packages:
            todo.append(name)
        elif provided.get(name):
            todo.append(provided[name][0])
        else:
            missing.append(name)
    while todo:
        name = todo.pop()
        if name in taken:
            continue
        taken.add(name)
        if name in shallow_names:
            continue
        stanza = packages[name]
        for field in ("Pre-Depends", "Depends"):
            for group in _alternatives(stanza.get(field, "")):
                choice = _choose(group, packages, provided)
                if choice is not None and choice not in skip and choice not in taken:
                    todo.append(choice)
    return sorted(taken), missing


def _choose(group: List[str], packages: Dict[str, Stanza],
            provided: Dict[str, List[str]]) -> Optional[str]:
    for alt in group:
        if alt in packages:
            return alt
    for alt in group:
        if provided.get(alt):
            return provided[alt][0]
    return None


def owned_files(info_dir: str, name: str, arch: str) -> List[str]:
    """The paths dpkg's list for NAME holds (NAME.list or NAME:ARCH.list)."""
    for candidate in (name + ".list", name + ":" + arch + ".list"):
        path = os.path.join(info_dir, candidate)
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                return [line.rstrip("\n") for line in handle if line.strip() not in ("", "/.")]
    return []


def kept(path: str) -> bool:
    gconv = GCONV.match(path)
    if gconv:
        name = gconv.group("name")
        return name.startswith("gconv-modules") or name in GCONV_KEPT
    return not any(path.startswith(prefix) or path + "/" == prefix
                   for prefix in DROPPED_PREFIXES)


class Stager:
    """Copies paths of ROOT into DEST at the same place, links on the way kept."""

    def __init__(self, root: str, dest: str, left_out: Iterable[str] = ()) -> None:
        self.root = root
        self.dest = dest
        self.files = 0
        self.bytes = 0
        self.left_out = frozenset(left_out)
        # lib-dynload directory (real path, as staged) -> modules not copied into it
        self.dropped = {}  # type: Dict[str, Set[str]]

    def _src(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _dst(self, path: str) -> str:
        return os.path.join(self.dest, path.lstrip("/"))

    def real_dir(self, path: str, depth: int = 0) -> str:
        """PATH (a directory in ROOT) with its links resolved; each directory and link on
        the way made in DEST as it is in ROOT."""
        if depth > 40:
            raise OSError("too many levels of symbolic links: " + path)
        current = "/"
        for part in [p for p in path.split("/") if p]:
            step = os.path.join(current, part)
            info = os.lstat(self._src(step))
            if stat.S_ISLNK(info.st_mode):
                target = os.readlink(self._src(step))
                if not os.path.lexists(self._dst(step)):
                    os.symlink(target, self._dst(step))
                joined = target if target.startswith("/") else os.path.join(current, target)
                current = self.real_dir(os.path.normpath(joined), depth + 1)
            else:
                if not os.path.isdir(self._dst(step)):
                    os.mkdir(self._dst(step))
                    os.chmod(self._dst(step), stat.S_IMODE(info.st_mode))
                current = step
        return current

    def copy(self, path: str) -> None:
        """One path: a directory is made (not filled), a file or link copied. Absent
        paths (a file a maintainer script removed) are passed over."""
        src = self._src(path)
        if not os.path.lexists(src):
            return
        parent = self.real_dir(os.path.dirname(path.rstrip("/")) or "/")
        name = os.path.basename(path.rstrip("/"))
        if not name:
            return
        real = os.path.join(parent, name)
        src, dst = self._src(real), self._dst(real)
        info = os.lstat(src)
        if stat.S_ISDIR(info.st_mode):
            self.real_dir(real)
        elif os.path.lexists(dst):
            return
        elif stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISREG(info.st_mode):
            module = left_out_module(real, self.left_out)
            if module:
                self.dropped.setdefault(parent, set()).add(module)
                return
            shutil.copy2(src, dst)
            # No setuid or setgid program in an image that runs one app as its user
            # (su, mount and passwd come with packages the app never needs to run).
            os.chmod(dst, stat.S_IMODE(info.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
            self.files += 1
            self.bytes += info.st_size

    def copy_tree(self, path: str) -> None:
        """PATH and, for a directory, everything under it."""
        self.copy(path)
        top = self._src(path)
        if os.path.islink(top) or not os.path.isdir(top):
            return
        for current, dirs, names in os.walk(top):
            rel = "/" + os.path.relpath(current, self.root)
            for name in sorted(dirs) + sorted(names):
                if kept(os.path.join(rel, name)):
                    self.copy(os.path.join(rel, name))


def left_out_module(path: str, left_out: Iterable[str]) -> Optional[str]:
    """The module PATH is, when it is an extension module in a lib-dynload directory
    named in LEFT_OUT (_curses.cpython-312-x86_64-linux-gnu.so -> _curses)."""
    folder, name = os.path.split(path)
    if os.path.basename(folder) != "lib-dynload" or not name.endswith(".so"):
        return None
    module = name.split(".")[0]
    return module if module in left_out else None


STUB = '''"""Left out of this image by snakepacker pack --distroless."""
raise ModuleNotFoundError(
    "No module named %(name)r: snakepacker pack --distroless left it out with the "
    "libraries it needs; pack with --distroless-keep %(name)s to keep it",
    name=%(name)r)
'''


def write_stubs(stager: "Stager") -> List[str]:
    """In each lib-dynload directory, a module in place of each one left out, which
    raises ModuleNotFoundError with the reason. Returns the modules left out."""
    names = set()  # type: Set[str]
    for folder, modules in sorted(stager.dropped.items()):
        for module in sorted(modules):
            with open(stager._dst(os.path.join(folder, module + ".py")), "w") as handle:
                handle.write(STUB % {"name": module})
            names.add(module)
    return sorted(names)


def needed_libraries(find_libdeps: str, dest: str) -> Tuple[List[str], List[str], List[str]]:
    """What the ELF files under DEST need from this system, as FIND_LIBDEPS (the
    find-libdeps tool) resolves it: (the owning packages, the libraries no package owns,
    "FILE needs SONAME" for each found nowhere). Libraries inside DEST are no one's."""
    proc = subprocess.run([sys.executable, "-I", "-S", find_libdeps, "--json",
                           "--ignore-missing", dest],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if proc.returncode != 0:
        raise OSError("find-libdeps failed: " + proc.stderr.strip()[-500:])
    found = json.loads(proc.stdout)
    missing = ["%s needs %s" % (path[len(dest):] or "/", soname)
               for path, sonames in sorted(found["missing"].items()) for soname in sonames]
    return sorted(found["packages"]), sorted(found["unowned"]), missing


def stage_needed_libraries(stager: "Stager", find_libdeps: str, dpkg: str,
                           packages: Dict[str, Stanza], names: List[str]) -> List[str]:
    """Stage what the staged ELF files need until they need nothing more: the owning
    packages' files, and a library no package owns (a file of the base image) as it is.
    Returns NAMES with the packages added."""
    seen = set()  # type: Set[str]
    while True:
        owners, unowned, missing = needed_libraries(find_libdeps, stager.dest)
        for line in missing:
            print("collect-distroless: warning: %s, found nowhere" % line, file=sys.stderr)
        new = sorted(set(owners) - set(names))
        files = [path for path in unowned if path not in seen]
        if not new and not files:
            return names
        _stage_packages(stager, dpkg, packages, new)
        for path in files:
            seen.add(path)
            stager.copy(path)
            stager.copy(os.path.realpath(path))
        names = sorted(set(names) | set(new))


def write_accounts(dest: str, user: Optional[str], uid: int) -> None:
    """/etc/passwd and /etc/group: root, nobody and USER (uid = gid = UID)."""
    users = [("root", 0, "/root"), ("nobody", 65534, "/nonexistent")]
    groups = [("root", 0), ("nogroup", 65534)]
    if user and user != "root":
        users.append((user, uid, "/tmp"))
        groups.append((user, uid))
    etc = os.path.join(dest, "etc")
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, "passwd"), "w") as handle:
        for name, number, home in users:
            handle.write("%s:x:%d:%d:%s:%s:/sbin/nologin\n" % (name, number, number, name, home))
    with open(os.path.join(etc, "group"), "w") as handle:
        for name, number in groups:
            handle.write("%s:x:%d:\n" % (name, number))


def write_status(dest: str, packages: Dict[str, Stanza], names: Iterable[str]) -> None:
    """One stanza per package under var/lib/dpkg/status.d/, read by image scanners."""
    folder = os.path.join(dest, "var", "lib", "dpkg", "status.d")
    os.makedirs(folder, exist_ok=True)
    for name in names:
        with open(os.path.join(folder, name), "w") as handle:
            handle.write(packages[name][""])


def collect(root: str, dest: str, seeds: List[str], paths: List[str], links: List[str],
            user: Optional[str], uid: int, shallow: Iterable[str] = (),
            find_libdeps: Optional[str] = None,
            left_out: Iterable[str] = ()) -> Tuple[List[str], List[str], Stager]:
    """Stage SEEDS' closure and PATHS from ROOT into DEST, then (with FIND_LIBDEPS, root
    / only) the owners of the libraries the staged files need, until none is missing;
    LEFT_OUT modules are not staged. Returns (packages, missing, stager)."""
    dpkg = os.path.join(root, "var", "lib", "dpkg")
    with open(os.path.join(dpkg, "status"), encoding="utf-8",
              errors="surrogateescape") as handle:
        packages = parse_status(handle.read())
    names, missing = closure(packages, seeds, shallow=shallow)
    os.makedirs(dest, exist_ok=True)
    stager = Stager(root, dest, left_out)
    _stage_packages(stager, dpkg, packages, names)
    for path in paths:
        stager.copy_tree(path)
    for spec in links:
        _copy_links(stager, spec)
    if find_libdeps:
        names = stage_needed_libraries(stager, find_libdeps, dpkg, packages, names)
    write_stubs(stager)
    write_status(dest, packages, names)
    write_accounts(dest, user, uid)
    tmp = os.path.join(dest, "tmp")
    os.makedirs(tmp, exist_ok=True)
    os.chmod(tmp, 0o1777)
    return names, missing, stager


def _stage_packages(stager: Stager, dpkg: str, packages: Dict[str, Stanza],
                    names: Iterable[str]) -> None:
    for name in names:
        arch = packages[name].get("Architecture", "")
        for path in owned_files(os.path.join(dpkg, "info"), name, arch):
            if kept(path):
                stager.copy(path)


def _copy_links(stager: Stager, spec: str) -> None:
    """DIR:PREFIX: the symbolic links in DIR that point under PREFIX (console scripts
    linked into /usr/bin)."""
    folder, _, prefix = spec.partition(":")
    src = stager._src(folder)
    if not os.path.isdir(src):
        return
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if os.path.islink(path) and os.readlink(path).startswith(prefix.rstrip("/") + "/"):
            stager.copy(os.path.join(folder, name))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="collect-distroless",
        description="Stage the files of some dpkg packages (and their dependencies) and "
                    "of some paths, for an image with no shell and no package manager.")
    parser.add_argument("dest", help="the staging directory")
    parser.add_argument("--root", default="/", help="the system to read (default /)")
    parser.add_argument("--package", action="append", default=[], metavar="PKG",
                        help="a package the app needs (repeatable; commas too)")
    parser.add_argument("--packages-from", action="append", default=[], metavar="FILE",
                        help="a file of package names, one a line or space separated")
    parser.add_argument("--shallow", action="append", default=[], metavar="PKG",
                        help="a package taken without its dependencies (repeatable; commas)")
    parser.add_argument("--shallow-from", action="append", default=[], metavar="FILE",
                        help="a file of packages taken without their dependencies")
    parser.add_argument("--find-libdeps", metavar="PROGRAM",
                        help="then take the owners of the libraries the staged ELF files "
                             "need, found by this find-libdeps, until none is missing")
    parser.add_argument("--leave-out", action="append", default=[], metavar="MODULE",
                        help="an extension module of the interpreter not to stage "
                             "(repeatable; commas)")
    parser.add_argument("--path", action="append", default=[], metavar="PATH",
                        help="a file or directory copied as it is (repeatable)")
    parser.add_argument("--links", action="append", default=[], metavar="DIR:PREFIX",
                        help="copy the links in DIR that point under PREFIX")
    parser.add_argument("--user", default=None, help="the app's user in /etc/passwd")
    parser.add_argument("--uid", type=int, default=10001)
    args = parser.parse_args(argv)
    seeds = [p for item in args.package for p in item.split(",") if p.strip()]
    shallow = [p for item in args.shallow for p in item.split(",") if p.strip()]
    left_out = [m for item in args.leave_out for m in item.split(",") if m.strip()]
    for files, names in ((args.packages_from, seeds), (args.shallow_from, shallow)):
        for name in files:
            with open(name) as handle:
                names.extend(handle.read().split())
    if args.find_libdeps and os.path.abspath(args.root) != "/":
        parser.error("--find-libdeps resolves libraries on this system: --root must be /")
    try:
        names, missing, stager = collect(args.root, args.dest, seeds, args.path, args.links,
                                         args.user, args.uid, shallow, args.find_libdeps,
                                         left_out)
    except OSError as exc:
        print("collect-distroless: %s" % exc, file=sys.stderr)
        return 1
    if missing:
        print("collect-distroless: not installed: %s" % ", ".join(sorted(missing)),
              file=sys.stderr)
        return 1
    print("collect-distroless: %d packages, %d files, %.1f MB: %s" % (
        len(names), stager.files, stager.bytes / 1e6, " ".join(names)))
    dropped = sorted(set().union(*stager.dropped.values())) if stager.dropped else []
    if dropped:
        print("collect-distroless: left out (--distroless-keep keeps them): %s"
              % " ".join(dropped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
