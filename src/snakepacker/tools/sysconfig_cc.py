"""Point a CPython's recorded C compiler at the system's `cc` and `c++`.

A CPython remembers the compiler it was built with (sysconfig's CC, LDSHARED and the
rest), and setuptools, meson-python and pip's sdist builds compile extensions with it.
A release-grade CPython built with clang would send those builds to clang, which the
`all` image does not carry (it has gcc as cc); after this rewrite they use the
system's compiler, as with a gcc-built CPython. Only the compiler commands change:
the build-only flags (PGO, ThinLTO, lld: the *_NODIST variables) are never given to
extensions, and CONFIG_ARGS keeps how the interpreter itself was configured.

Run by the freshly built interpreter in its build stage (stdlib only, CPython 3.7+):

    sysconfig-cc PREFIX

It rewrites PREFIX/lib/python*/_sysconfigdata_*.py, the JSON copy newer CPythons keep
beside it (_sysconfig_vars_*.json) and the config directory's Makefile, and prints
each file it changed.
"""

import glob
import json
import os
import pprint
import re
import sys

# The variables whose first word is a compiler or linker driver.
COMPILER_VARS = ("CC", "CXX", "CPP", "MAINCC", "LINKCC", "LDSHARED", "BLDSHARED",
                 "LDCXXSHARED")
SYSTEM_DRIVERS = {"clang": "cc", "clang++": "c++"}
_MAKEFILE_LINE = re.compile(r"^(?P<name>[A-Z]+)=(?P<space>\s*)(?P<value>.*)$")


def system_command(value):
    """VALUE with a leading clang or clang++ replaced by cc or c++."""
    first, sep, rest = value.partition(" ")
    if first in SYSTEM_DRIVERS:
        return SYSTEM_DRIVERS[first] + sep + rest
    return value


def rewrite_vars(variables):
    """The names of the compiler variables changed in place in VARIABLES."""
    changed = []
    for name in COMPILER_VARS:
        value = variables.get(name)
        if isinstance(value, str) and system_command(value) != value:
            variables[name] = system_command(value)
            changed.append(name)
    return changed


def rewrite_sysconfigdata(path):
    namespace = {}
    with open(path) as f:
        source = f.read()
    exec(compile(source, path, "exec"), namespace)
    variables = namespace["build_time_vars"]
    if not rewrite_vars(variables):
        return False
    with open(path, "w") as f:
        f.write("# system configuration generated and used by the sysconfig module\n")
        f.write("build_time_vars = ")
        pprint.pprint(variables, stream=f)
    return True


def rewrite_json(path):
    with open(path) as f:
        variables = json.load(f)
    if not rewrite_vars(variables):
        return False
    with open(path, "w") as f:
        json.dump(variables, f, indent=2, sort_keys=True)
    return True


def rewrite_makefile(path):
    with open(path) as f:
        lines = f.read().split("\n")
    changed = False
    for i, line in enumerate(lines):
        match = _MAKEFILE_LINE.match(line)
        if match and match.group("name") in COMPILER_VARS:
            value = system_command(match.group("value"))
            if value != match.group("value"):
                lines[i] = match.group("name") + "=" + match.group("space") + value
                changed = True
    if changed:
        with open(path, "w") as f:
            f.write("\n".join(lines))
    return changed


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not os.path.isdir(args[0]):
        sys.stderr.write("usage: sysconfig-cc PREFIX (an installed CPython's prefix)\n")
        return 2
    lib = os.path.join(args[0], "lib")
    found = {
        rewrite_sysconfigdata: glob.glob(os.path.join(lib, "python*", "_sysconfigdata_*.py")),
        rewrite_json: glob.glob(os.path.join(lib, "python*", "_sysconfig_vars_*.json")),
        rewrite_makefile: glob.glob(os.path.join(lib, "python*", "config-*", "Makefile")),
    }
    if not found[rewrite_sysconfigdata]:
        sys.stderr.write(f"sysconfig-cc: no _sysconfigdata_*.py under {lib}\n")
        return 1
    for rewrite, paths in found.items():
        for path in sorted(paths):
            if rewrite(path):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
