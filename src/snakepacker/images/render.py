"""Render a family image's Dockerfile and list the files its build context needs.

Application images are rendered by pack's own planning (they are what `pack` would
make of their recipe), so this module sits above both the family and pack.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from snakepacker import __version__
from snakepacker.family import labels, pins
from snakepacker.family.cpython import (
    BOLT_FLAGS,
    CPYTHON_RECORD_SCRIPT,
    PythonSpec,
    Route,
    base_minor,
)
from snakepacker.family.distros import DPKG_EXCLUDES, RUST_DPKG_EXCLUDES
from snakepacker.family.images import Family, Image
from snakepacker.pack.apps import render_app
from snakepacker.templating import render_template
from snakepacker.tools import STAGE_SCRIPTS, TOOL_FILES

# The build-stage script that sends a clang-built CPython's extension builds to the
# system's cc, by its build-context path.
SYSCONFIG_CC = "tools/sysconfig-cc"
# The tool pins a build image installs: files in a folder of the build context, each
# bind-mounted into /tmp by the RUN steps that read it (a file, not the folder: a
# directory BuildKit makes for a mount stays behind in the image, empty).
PINS_CONTEXT = "pins"
PINS_PREFIX = "/tmp/snakepacker-pins-"


@dataclass(frozen=True)
class Rendered:
    image: Image
    dockerfile: str
    # Build-context path -> where its bytes come from. Tarballs are named here and
    # fetched (and verified) only when a build needs them.
    files: dict[str, Path] = field(default_factory=dict)
    tarballs: dict[str, str] = field(default_factory=dict)  # context path -> minor


def snakepacker_source() -> str:
    """snakepacker's own source URL, as its package metadata names it ("" when none)."""
    try:
        urls = metadata.metadata("snakepacker").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return ""
    for entry in urls:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("source", "repository", "homepage"):
            return url.strip()
    return ""


def description(family: Family, image: Image) -> str:
    """The image's OCI description, by its kind of template."""
    distro, py = family.distro, image.python
    minors = " ".join(p.minor for p in family.options.pythons)
    return {
        "base": f"snakepacker base: {distro.vendor} {distro.name} with locale, time zone "
                "and tools",
        "python": f"CPython {py.minor if py else ''} runtime on {distro.name}",
        "python-pillow": f"CPython {py.minor if py else ''} runtime on {distro.name} with the "
                         "libraries Pillow links against",
        "all": f"snakepacker build stage: CPython {minors}, headers, compiler, Rust, pip, uv, "
               "cython, poetry, tox",
        "all-pillow": "snakepacker build stage: all + Pillow build headers",
    }[image.template]


def image_labels(family: Family, image: Image, carried: tuple[PythonSpec, ...],
                 ) -> dict[str, str]:
    """A family image's LABEL step (snakepacker.family.labels)."""
    names = family.registry_names(image.name)
    base_name = family.ref(image.parent) if image.parent else labels.ArgRef("${ROOT_IMAGE}")
    record = labels.build_record(family.distro.name, carried, family.options.grade(carried))
    return labels.oci_labels([
        ("org.opencontainers.image.title", names[-1]),
        ("org.opencontainers.image.description", description(family, image)),
        ("org.opencontainers.image.vendor", "snakepacker"),
        ("org.opencontainers.image.version", __version__),
        ("org.opencontainers.image.source", snakepacker_source() or None),
    ], base_name, record)


@dataclass(frozen=True)
class PinFile:
    """One set of pins as a RUN step sees it: its mount, its path there and its sha256,
    which the step checks (and which puts the pins into the step's text, so any
    engine's cache takes a refresh for a change)."""

    mount: str
    path: str
    sha256: str


def pinned(name: str, minor: str, files: dict[str, Path]) -> PinFile:
    """Add the set's pins for MINOR to the context FILES, and say where a step finds them."""
    source = pins.pin_file(name, minor)
    file = f"{name}-{base_minor(minor)}.txt"
    files[f"{PINS_CONTEXT}/{file}"] = source
    target = PINS_PREFIX + file
    return PinFile(f"type=bind,source={PINS_CONTEXT}/{file},target={target}", target,
                   pins.sha256(source))


def newest_gil(pythons: tuple[PythonSpec, ...]) -> PythonSpec:
    """The Python `all` runs its own tools with (the installer's venv, the Pillow probe):
    the newest one with a GIL, as most wheels are built for it; a free-threaded one only
    when the family has nothing else."""
    return ([py for py in pythons if not py.free_threaded] or list(pythons))[-1]


def by_clang(family: Family, py: PythonSpec) -> bool:
    """Whether PY's source build is compiled by the distro's clang: release grade only
    (quick builds and BOLT's keep gcc). The template and the build context both ask."""
    return family.distro.clang is not None and family.options.source_grade(py) == "release"


def render_image(family: Family, image: Image) -> Rendered:
    if image.app is not None:
        return Rendered(image, render_app(family, image.app))  # a requirement: no context

    pythons = family.options.pythons  # oldest first
    newest = newest_gil(pythons)
    files: dict[str, Path] = {}
    # The pins of the tools this template installs with the newest Python, and of every
    # Python's own pip, setuptools and wheel (`all` only).
    tool_pins = {name: pinned(name, newest.minor, files)
                 for name in pins.TEMPLATE_SETS.get(image.template, ())}
    python_pins = {py.minor: pinned(pins.PYTHON.name, py.minor, files) for py in pythons
                   } if image.template == "all" else {}
    carried = {"all": pythons, "all-pillow": pythons}.get(
        image.template, (image.python,) if image.python else ())
    context = {
        "distro": family.distro,
        "dpkg_excludes": DPKG_EXCLUDES,
        "rust_dpkg_excludes": RUST_DPKG_EXCLUDES,
        "build_stage_tools": pins.BUILD_STAGE_TOOLS,
        "tool_pins": tool_pins,
        "python_pins": python_pins,
        "names": family.registry_names(image.name),
        "base_ref": family.ref("base"),
        "parent_ref": family.ref(image.parent) if image.parent else None,
        "all_pillow_ref": family.ref("all-pillow"),
        "py": image.python,
        "pythons": pythons,
        "newest": newest,
        "grade": {
            "of": family.options.source_grade,
            "bolt_packages": family.distro.bolt_packages,
            "bolt_tools": {**family.distro.bolt_tools, **BOLT_FLAGS},
            "by_clang": functools.partial(by_clang, family),
            "clang_packages": family.distro.clang_packages,
            "clang_bin": family.distro.clang_bin,
            "sysconfig_cc": SYSCONFIG_CC,
        },
        "cpython_record_script": CPYTHON_RECORD_SCRIPT,
        "labels": image_labels(family, image, carried),
    }
    text = render_template(f"{image.template}.j2", context)

    if image.template == "base":
        files.update({f"tools/{name}": path for name, path in TOOL_FILES.items()})
    # The tarballs of the CPythons this Dockerfile compiles.
    compiled = {"python": (image.python,), "all": pythons}.get(image.template, ())
    sources = [py for py in compiled if py is not None and py.route is Route.SOURCE]
    tarballs = {py.release.context_name: py.minor for py in sources if py.release is not None}
    if any(by_clang(family, py) for py in sources):  # its stage mounts the rewrite
        files[SYSCONFIG_CC] = STAGE_SCRIPTS["sysconfig-cc"]
    return Rendered(image, text, files, tarballs)
