"""The family on a real engine: what each image holds, and that the pieces fit.

The ``family_images`` fixture builds (or finds in the engine's cache) base, 3.10,
3.12, all, all-pillow and 3.12-pillow through the command line.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from tests.helpers import FAMILY_ARGS, NAMESPACE, Docker, snakepacker

pytestmark = pytest.mark.engine

TARGETS = ("3.10", "3.12", "3.12-pillow")
EVERY = ("base", "3.10", "3.12", "all", "all-pillow", "3.12-pillow")
NOBODY = "65534:65534"

# For every stdlib module, its level-0 bytecode must be there already.
PYC_CHECK = textwrap.dedent("""
    import importlib.util, os, sysconfig
    stdlib = sysconfig.get_paths()["stdlib"]
    missing = []
    for root, dirs, files in os.walk(stdlib):
        dirs[:] = [d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__")]
        missing += [os.path.join(root, f) for f in files if f.endswith(".py")
                    and not os.path.exists(importlib.util.cache_from_source(os.path.join(root, f)))]
    print(len(missing), missing[:3])
""")


def network_secret_args() -> list[str]:
    """The same CA secret the family build uses, for test builds that reach PyPI."""
    certs = os.environ.get("SNAKEPACKER_CA_CERTS", "")
    first = next((p for p in certs.split(os.pathsep) if p), None)
    return ["--secret", f"id=ca-certs,src={first}"] if first else []


def test_base_holds_locale_timezone_certificates_and_tools(
    docker: Docker, family_images: dict[str, str]
) -> None:
    script = """
        set -e
        locale -a | grep -qx en_US.utf8
        [ "$LANG" = en_US.UTF-8 ] && [ "$TZ" = Etc/UTC ]
        date +%Z | grep -qx UTC
        [ -f /usr/share/zoneinfo/Europe/Berlin ] && [ -z "$(ls -A /usr/share/zoneinfo/right)" ]
        [ -z "$(find /usr/share/zoneinfo/posix/ -type f 2>/dev/null)" ]
        [ -s /etc/ssl/certs/ca-certificates.crt ]
        for tool in apt-install wait-for-port find-libdeps; do [ -x /usr/local/bin/$tool ]; done
        ! command -v cc && ! command -v gcc && ! command -v python3
        grep -q 'Install-Recommends "false"' /etc/apt/apt.conf.d/90snakepacker
        [ -z "$(ls -A /var/lib/apt/lists | grep -v -e '^lock$' -e '^partial$')" ]
        [ -z "$(find /var/cache/apt -name '*.deb' -o -name '*.bin')" ]
        [ -z "$(find /var/log -type f)" ]
        [ -z "$(find /usr/share/man /usr/share/info -type f 2>/dev/null)" ]
        echo ok
    """
    assert docker.sh(family_images["base"], script).stdout.strip().endswith("ok")


def test_images_list_sizes_are_the_engines_and_only_for_built_images(
    docker: Docker, family_images: dict[str, str]
) -> None:
    """`images list --json` gives each built image the size the engine reports for it;
    under a namespace where nothing is built, no image has a size."""
    on_docker = {"SNAKEPACKER_ENGINE": "docker"}  # the engine family_images built with
    proc = snakepacker("images", "list", "--json", *FAMILY_ARGS, env=on_docker)
    assert proc.returncode == 0, proc.stderr
    rows = {row["tag"]: row for row in json.loads(proc.stdout)}
    for tag, ref in family_images.items():
        size = int(docker("image", "inspect", "--format", "{{.Size}}", ref).stdout)
        assert rows[tag]["size"] == size > 0, tag
    empty = snakepacker("images", "list", "--json", *FAMILY_ARGS,
                        "--namespace", "sptest-list-never-built", env=on_docker)
    assert empty.returncode == 0, empty.stderr
    assert [row["size"] for row in json.loads(empty.stdout)] == [None] * len(rows)


def test_python_tools_say_clearly_when_an_image_has_no_python(
    docker: Docker, family_images: dict[str, str]
) -> None:
    proc = docker.run(family_images["base"], ["wait-for-port", "localhost:1"], check=False)
    assert proc.returncode == 127
    assert "no Python interpreter" in proc.stderr


@pytest.mark.parametrize("tag", TARGETS)
def test_targets_run_read_only_as_nobody_without_pip(
    docker: Docker, family_images: dict[str, str], tag: str
) -> None:
    minor = tag.split("-")[0]
    image = family_images[tag]
    code = "import sys, ssl, sqlite3, lzma, bz2, zlib, ctypes, decimal, uuid; print(sys.version)"
    for python in ("python3", f"python{minor}"):
        proc = docker.run(image, [python, "-c", code], "--read-only", "--user", NOBODY)
        assert proc.stdout.startswith(minor + ".")
    no_pip = docker.run(image, ["python3", "-m", "pip", "--version"], check=False)
    assert no_pip.returncode != 0 and "No module named pip" in no_pip.stderr
    assert docker.sh(image, "command -v cc gcc || true").stdout.strip() == ""


@pytest.mark.parametrize("tag", ("3.10", "3.12"))
def test_stdlib_bytecode_is_compiled_in_the_image(
    docker: Docker, family_images: dict[str, str], tag: str
) -> None:
    proc = docker.run(family_images[tag], ["python3", "-c", PYC_CHECK], "--read-only",
                      "--user", NOBODY)
    assert proc.stdout.split()[0] == "0", proc.stdout


def test_all_has_every_python_with_headers_pip_and_uv(
    docker: Docker, family_images: dict[str, str]
) -> None:
    script = """
        set -e
        for v in 3.10 3.12; do
            include=$(python$v -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
            [ -f "$include/Python.h" ]
            python$v -m pip --version | grep -q "python $v"
            python$v -c 'import setuptools, wheel'
        done
        gcc --version >/dev/null && pkg-config --exists libpq yaml-0.1 libffi libxml-2.0
        uv --version
    """
    assert docker.sh(family_images["all"], script).stdout.startswith("uv ")


@pytest.mark.parametrize("minor", ("3.10", "3.12"))
def test_a_venv_made_in_all_runs_in_the_target(
    docker: Docker, family_images: dict[str, str], minor: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(textwrap.dedent(f"""
        FROM {family_images["all"]} AS build
        RUN --mount=type=secret,id=ca-certs \\
            SSL_CERT_FILE=/run/secrets/ca-certs; [ -s "$SSL_CERT_FILE" ] || unset SSL_CERT_FILE; \\
            export SSL_CERT_FILE; \\
            python{minor} -m venv /usr/share/python3/app \\
            && uv pip install --python /usr/share/python3/app/bin/python attrs==23.2.0
        FROM {family_images[minor]}
        COPY --from=build /usr/share/python3/app /usr/share/python3/app
    """))
    image = docker.build(str(tmp_path), *network_secret_args())
    try:
        out = docker.run(image, ["/usr/share/python3/app/bin/python", "-c",
                                 "import attrs, sys; print(attrs.__version__, sys.prefix)"],
                         "--read-only", "--user", NOBODY).stdout.split()
        assert out == ["23.2.0", "/usr/share/python3/app"]
    finally:
        docker("image", "rm", "-f", image, check=False)


def test_pillow_built_from_source_runs_on_the_pillow_target_only(
    docker: Docker, family_images: dict[str, str], tmp_path: Path
) -> None:
    """Pillow compiled against the system libraries in all-pillow re-encodes a JPEG and a
    PNG on 3.12-pillow; on plain 3.12 its libraries are missing, so the check can fail."""
    (tmp_path / "check.py").write_text(textwrap.dedent("""
        import io
        from PIL import Image, features
        assert features.check("jpg") and features.check("zlib")
        img = Image.new("RGB", (64, 48), (200, 30, 90))
        for fmt in ("JPEG", "PNG"):
            buf = io.BytesIO()
            img.save(buf, fmt)
            again = Image.open(io.BytesIO(buf.getvalue()))
            again.load()
            out = io.BytesIO()
            again.convert("L").save(out, fmt)
            assert again.size == (64, 48) and out.tell() > 0
        print("ok", Image.__version__)
    """))
    (tmp_path / "Dockerfile").write_text(textwrap.dedent(f"""
        FROM {family_images["all-pillow"]} AS build
        RUN --mount=type=secret,id=ca-certs \\
            PIP_CERT=/run/secrets/ca-certs; [ -s "$PIP_CERT" ] || unset PIP_CERT; \\
            export PIP_CERT; \\
            python3.12 -m venv /usr/share/python3/app \\
            && /usr/share/python3/app/bin/pip install --no-cache-dir --no-binary pillow pillow
        FROM {family_images["3.12-pillow"]} AS pillow
        COPY --from=build /usr/share/python3/app /usr/share/python3/app
        COPY check.py /check.py
        FROM {family_images["3.12"]} AS plain
        COPY --from=build /usr/share/python3/app /usr/share/python3/app
        COPY check.py /check.py
    """))
    good = docker.build(str(tmp_path), "--target", "pillow", *network_secret_args())
    plain = docker.build(str(tmp_path), "--target", "plain", *network_secret_args())
    try:
        ok = docker.run(good, ["/usr/share/python3/app/bin/python", "/check.py"],
                        "--read-only", "--user", NOBODY)
        assert ok.stdout.startswith("ok ")
        broken = docker.run(plain, ["/usr/share/python3/app/bin/python", "/check.py"],
                            check=False)
        assert broken.returncode != 0 and "cannot open shared object file" in broken.stderr
    finally:
        docker("image", "rm", "-f", good, plain, check=False)


@pytest.mark.parametrize("tag", EVERY)
def test_apt_install_installs_cleans_and_fails_clearly(
    docker: Docker, family_images: dict[str, str], tag: str
) -> None:
    script = """
        set -e
        apt-install netbase
        [ -f /etc/protocols ]
        [ -z "$(find /var/lib/apt/lists /var/cache/apt -type f ! -name lock)" ]
        apt-install netbase >/dev/null
        if apt-install no-such-package-snakepacker 2>/tmp/err; then exit 1; fi
        grep -q "Unable to locate package no-such-package-snakepacker" /tmp/err
        [ -z "$(find /var/lib/apt/lists /var/cache/apt -type f ! -name lock)" ]
        apt-install
        echo ok
    """
    assert docker.sh(family_images[tag], script).stdout.strip().endswith("ok")


@pytest.mark.parametrize("tag", EVERY)
def test_no_certificate_or_index_material_is_left_in_any_image(
    docker: Docker, family_images: dict[str, str], tag: str
) -> None:
    image = family_images[tag]
    env = docker("image", "inspect", "--format", "{{json .Config.Env}}", image).stdout
    assert "CERT" not in env and "INDEX_URL" not in env
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    assert "BEGIN CERTIFICATE" not in history
    proc = docker.sh(image, "ls /tmp /run/secrets; find / -xdev -name 'snakepacker-ca*'",
                     check=False)
    assert "snakepacker-ca" not in proc.stdout and "ca-certs" not in proc.stdout


def test_find_libdeps_runs_in_the_targets(docker: Docker, family_images: dict[str, str]) -> None:
    out = docker.run(family_images["3.12"], ["find-libdeps", "/opt/python/3.12"]).stdout.split()
    assert {"libc6", "libssl3", "zlib1g"} <= set(out)
    ten = docker.run(family_images["3.10"], ["find-libdeps", "/usr/lib/python3.10/lib-dynload"])
    assert "libc6" in ten.stdout.split()


def test_a_debian_family_builds_and_runs(docker: Docker) -> None:
    """bookworm: its own root, Python 3.11 from the release, Debian's package names in all."""
    if docker("image", "inspect", "snakepacker/root:bookworm", check=False).returncode != 0:
        proc = snakepacker("bootstrap", "bookworm")
        assert proc.returncode == 0, proc.stderr[-3000:]
    proc = snakepacker("images", "build", "3.11", "all", "--distro", "bookworm",
                       "--minors", "3.11")
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = docker.run(f"{NAMESPACE}/python:3.11-bookworm",
                     ["python3", "-c", "import ssl, sys; print(sys.version_info[:2])"],
                     "--read-only", "--user", NOBODY).stdout
    assert out.strip() == "(3, 11)"
    script = "python3.11 -m pip --version && mysql_config --version && gcc --version"
    assert docker.sh(f"{NAMESPACE}/python:all-bookworm", script).returncode == 0


def exported_functions(disassembly: str) -> dict[str, str]:
    """Each exported function's body in objdump -d of a stripped library, by name; a
    libpython exports well over a thousand."""
    parts = re.split(r"^[0-9a-f]+ <(\S+)@@Base>:$", disassembly, flags=re.M)[1:]
    functions = dict(zip(parts[::2], parts[1::2], strict=True))
    assert len(functions) > 1000, disassembly[:2000]
    return functions


def framed_share(disassembly: str) -> float:
    """The share of exported functions whose first instructions set up a frame pointer
    (x86-64: push %rbp, then mov %rsp,%rbp)."""
    functions = exported_functions(disassembly)
    framed = 0
    for body in functions.values():
        first = [line.split("\t")[-1].split() for line in body.strip().splitlines()[:4]]
        ops = [" ".join(words) for words in first]
        framed += "push %rbp" in ops and "mov %rsp,%rbp" in ops
    return framed / len(functions)


def guarded_functions(disassembly: str) -> tuple[set[str], int]:
    """The exported functions (x86-64) whose prologue loads the stack protector's
    canary (%fs:0x28), and how many functions there are."""
    functions = exported_functions(disassembly)
    guarded = {name for name, body in functions.items()
               if "%fs:0x28" in "\n".join(body.strip().splitlines()[:24])}
    return guarded, len(functions)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="reads x86-64 prologues")
def test_source_built_cpython_has_the_distros_stack_protector_not_the_strong_one(
    docker: Docker, family_images: dict[str, str]
) -> None:
    """Read in `all` (it has objdump), beside jammy's own 3.10, which Ubuntu builds with
    -fstack-protector. Ubuntu's gcc defaults to -strong, which guarded a fifth of
    libpython's functions, the eval loop among them; the plain one guards functions
    with character arrays only, and still calls __stack_chk_fail."""
    for minor, lib in (("3.12", "/opt/python/3.12/lib/libpython3.12.so.1.0"),
                       ("3.10", "/usr/lib/x86_64-linux-gnu/libpython3.10.so.1.0")):
        text = docker.run(family_images["all"],
                          ["objdump", "-d", "--no-show-raw-insn", lib]).stdout
        guarded, functions = guarded_functions(text)
        assert "_PyEval_EvalFrameDefault" not in guarded, minor
        assert len(guarded) < 0.05 * functions, (minor, len(guarded), functions)
        assert re.search(r"call +[0-9a-f]+ <__stack_chk_fail@plt>", text), minor


def test_source_built_python_runs_without_libpython_so_which_all_ships(
    docker: Docker, family_images: dict[str, str]
) -> None:
    """The interpreter carries libpython's code itself; the shared library is for
    embedders, so `all` ships it and the X.Y image does not. sysconfig offers it as
    Debian's does, and extensions still find the C API in the executable."""
    for minor in ("3.12", "3.13t"):
        prefix = f"/opt/python/{minor}"
        image = f"{NAMESPACE}/python:{minor}"  # the fixture built 3.13t too
        linked = docker.run(image, ["ldd", f"{prefix}/bin/python{minor}"]).stdout
        assert "libc.so.6" in linked and "libpython" not in linked, linked
        assert docker.run(image, ["ls", f"{prefix}/lib"]).stdout.split() == [f"python{minor}"]
        shipped = docker.run(family_images["all"], ["ls", f"{prefix}/lib"]).stdout.split()
        assert {f"libpython{minor}.so.1.0", "libpython3.so"} <= set(shipped), shipped
        probe = ("import _ctypes, _decimal, _ssl, sysconfig; "
                 "print(sysconfig.get_config_var('Py_ENABLE_SHARED'))")
        assert docker.run(image, [f"python{minor}", "-c", probe]).stdout.strip() == "1"


# What the X.Y image leaves out of the stdlib's folder, which `all` keeps.
LEFT_OUT = ("config-3.12-*", "lib2to3", "pydoc_data", "turtle.py", "ensurepip", "idlelib",
            "lib-dynload/_testcapi.*.so", "lib-dynload/xxlimited.*.so")
# What a server may use, run in the X.Y image read-only as nobody: the kept modules
# import, help() says where its topics went, and a venv without pip can be made.
RUNTIME_CHECK = textwrap.dedent("""
    import importlib, io, contextlib, subprocess, sys, sysconfig, tempfile
    for name in ("pydoc", "unittest.mock", "venv", "curses", "dbm.gnu", "sqlite3",
                 "readline", "_xxsubinterpreters", "wsgiref.simple_server"):
        importlib.import_module(name)
    assert sysconfig.get_config_var("LDLIBRARY") == "libpython3.12.so"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        help("if")
    assert "pydoc_data" in out.getvalue(), out.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp + "/v"], check=True)
        subprocess.run([tmp + "/v/bin/python", "-c", "import json"], check=True)
    print("ok")
""")


def test_the_x_y_image_leaves_out_what_no_server_uses(
    docker: Docker, family_images: dict[str, str]
) -> None:
    """Headers, the Makefile, libpython.so, 2to3's library, turtle, help()'s topics,
    ensurepip and the test suite's extension modules: in `all`, not in 3.12."""
    lib = "/opt/python/3.12/lib/python3.12"
    check = " ".join(f"{lib}/{path}" for path in LEFT_OUT)
    script = f"for path in {check}; do [ -e $path ] && echo $path; done; true"
    assert docker.sh(family_images["3.12"], script).stdout.split() == []
    assert len(docker.sh(family_images["all"], script).stdout.split()) == len(LEFT_OUT)
    out = docker.run(family_images["3.12"], ["python3", "-c", RUNTIME_CHECK], "--read-only",
                     "--tmpfs", "/tmp:exec", "--user", NOBODY).stdout
    assert out.strip() == "ok", out


EMBEDDER = r"""
#include <Python.h>
int main(void) {
    Py_Initialize();
    int failed = PyRun_SimpleString("import sys, sysconfig; "
        "print(sys.version.split()[0], sysconfig.get_config_var('LDLIBRARY'))");
    return Py_FinalizeEx() < 0 || failed;
}
"""


def test_an_embedder_links_and_runs_against_the_shipped_libpython(
    docker: Docker, family_images: dict[str, str]
) -> None:
    """Built in `all` the way embedding is documented (python3.X-config --embed), the
    program loads libpython3.12.so.1.0 from the prefix and runs Python code in it."""
    config = "/opt/python/3.12/bin/python3.12-config"
    script = (
        "set -e; cd /tmp; cat > embed.c <<'SRC'" + EMBEDDER + "SRC\n"
        f"gcc embed.c -o embed $({config} --cflags) $({config} --ldflags --embed)"
        " -Wl,-rpath,/opt/python/3.12/lib\n"
        "ldd ./embed | awk '/libpython/ { print $3 }'; ./embed\n"
    )
    out = docker.sh(family_images["all"], script).stdout.split()
    assert out == ["/opt/python/3.12/lib/libpython3.12.so.1.0", "3.12.3", "libpython3.12.so"], out


def build_grade(docker: Docker, image: str) -> str:
    """The grade the image's io.snakepacker.build label records (quick, release...)."""
    raw = docker("image", "inspect", "--format",
                 '{{ index .Config.Labels "io.snakepacker.build" }}', image).stdout
    return str(json.loads(raw)["grade"])


def section(headers: str, name: str) -> range:
    """The addresses of section NAME, from objdump -h."""
    for line in headers.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[1] == name:
            start = int(fields[3], 16)
            return range(start, start + int(fields[2], 16))
    raise AssertionError(f"no {name} section in:\n{headers}")


def got_loads(docker: Docker, image: str, path: str, function: str) -> int:
    """How many of FUNCTION's instructions (x86-64) read an address from the GOT: each
    rip-relative operand objdump resolves to an address inside .got."""
    headers = docker.run(image, ["objdump", "-h", path]).stdout
    got = section(headers, ".got")
    text = docker.run(image, ["objdump", "-d", "--no-show-raw-insn",
                              f"--disassemble={function}", path]).stdout
    assert f"<{function}" in text, text[:2000]
    targets = re.findall(r"\(%rip\)\S*\s+# ([0-9a-f]+)", text)
    assert len(targets) > 100, text[:2000]  # the eval loop touches globals all over
    return sum(int(address, 16) in got for address in targets)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="reads x86-64 instructions")
def test_the_interpreters_eval_loop_reaches_globals_without_the_got(
    docker: Docker, family_images: dict[str, str]
) -> None:
    """Read in `all` (it has objdump): a release build's interpreter, built without
    PIC, addresses type objects and the like in its eval loop directly; the same
    function in libpython.so, position-independent for a shared library, loads hundreds
    of addresses from the GOT (what made an interpreter linked from those objects
    slower: bench/README.md). A quick build's interpreter is linked from them."""
    image, prefix = family_images["all"], "/opt/python/3.12"
    function = "_PyEval_EvalFrameDefault"
    library = got_loads(docker, image, f"{prefix}/lib/libpython3.12.so.1.0", function)
    assert library > 100
    interpreter = got_loads(docker, image, f"{prefix}/bin/python3.12", function)
    if build_grade(docker, image) == "quick":
        # Compiled once: the interpreter is linked from libpython's PIC objects, whose
        # GOT loads the linker turns partly into direct addresses.
        assert 0 < interpreter <= library
    else:
        assert interpreter == 0


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="reads x86-64 prologues")
def test_source_built_cpython_keeps_frame_pointers_for_perf(
    docker: Docker, family_images: dict[str, str]
) -> None:
    """Read in `all` (it has objdump): the source-built 3.12's libpython against jammy's
    own 3.10, which is built without frame pointers."""
    share = {}
    for minor, lib in (("3.12", "/opt/python/3.12/lib/libpython3.12.so.1.0"),
                       ("3.10", "/usr/lib/x86_64-linux-gnu/libpython3.10.so.1.0")):
        proc = docker.run(family_images["all"], ["objdump", "-d", "--no-show-raw-insn", lib])
        share[minor] = framed_share(proc.stdout)
    assert share["3.12"] > 0.5 and share["3.10"] < 0.1, share
