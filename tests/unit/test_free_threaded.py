"""Free-threaded CPython (3.13t, 3.14t) as family data: targets, tarballs, routes,
rendering, tags, pack's choice of Python and what an image's inventory says of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.family.cpython import MINORS, Route, base_minor, is_free_threaded, minor_key
from snakepacker.family.images import Family, ImageKind
from snakepacker.images.render import render_image
from snakepacker.options import family_from
from snakepacker.pack.plan import choose_minor
from snakepacker.pack.project import python_version_file
from snakepacker.supply import inventory as inv
from tests.unit.test_inventory import _record


def family(**values: object) -> Family:
    return Family(family_from(values))


def test_free_threaded_builds_follow_their_minor_in_the_default_family() -> None:
    assert MINORS[-4:] == ("3.13", "3.13t", "3.14", "3.14t")
    # The order itself: by number, not as text, and each free-threaded build right
    # after its minor's GIL build.
    assert sorted(["3.14t", "3.10", "3.13t", "3.9", "3.14", "3.13"], key=minor_key) == [
        "3.9", "3.10", "3.13", "3.13t", "3.14", "3.14t"]
    assert [base_minor(m) for m in ("3.13t", "3.14", "3.14t")] == ["3.13", "3.14", "3.14"]
    assert [m for m in MINORS if is_free_threaded(m)] == ["3.13t", "3.14t"]
    fam = family()
    for name in ("3.13t", "3.13t-pillow", "3.14t", "3.14t-pillow"):
        assert fam.get(name).kind is ImageKind.TARGET
    assert fam.get("3.13t-pillow").parent == "3.13t"
    assert fam.get("3.13t-pillow").needs == ("all-pillow",)
    assert "3.13t" in fam.get("all").summary and "3.14t" in fam.get("all").summary


def test_a_free_threaded_python_is_a_source_build_of_its_own_prefix() -> None:
    # trixie ships 3.13 itself; its free-threaded build still comes from the tarball.
    options = family_from({"distro": "trixie", "minors": "3.13,3.13t",
                           "cpython": "3.13.5"})
    gil, free = options.python("3.13"), options.python("3.13t")
    assert (gil.route, gil.free_threaded, gil.configure_flags) == (Route.DISTRO, False, ())
    assert free.route is Route.SOURCE and free.free_threaded
    assert free.configure_flags == ("--disable-gil",)
    assert free.release is not None and free.release.version == "3.13.5"
    assert (free.prefix, free.executable, free.stage) == (
        "/opt/python/3.13t", "/opt/python/3.13t/bin/python3.13t", "cpython313t")


def test_the_tarball_of_a_minor_serves_its_free_threaded_build_unless_one_is_named() -> None:
    both = family_from({"minors": "3.13,3.13t", "cpython": "3.13.5"})
    assert both.python("3.13").release == both.python("3.13t").release
    own = family_from({"minors": "3.13,3.13t", "cpython": "3.13.5,3.13t=3.13.7"})
    assert own.python("3.13").release.version == "3.13.5"  # type: ignore[union-attr]
    assert own.python("3.13t").release.version == "3.13.7"  # type: ignore[union-attr]
    default = family_from({"minors": "3.14t"})
    assert default.python("3.14t").release.version.startswith("3.14.")  # type: ignore[union-attr]


def test_a_local_tarball_of_the_minor_serves_its_free_threaded_build(tmp_path: Path) -> None:
    tarball = tmp_path / "python3.13_3.13.5.orig.tar.xz"
    tarball.write_bytes(b"")  # its sha256 is checked only when a build fetches it
    options = family_from({"minors": "3.13t", "cpython": str(tarball)})
    assert options.tarball("3.13t") == tarball
    assert options.python("3.13t").release.version == "3.13.5"  # type: ignore[union-attr]
    # Named for 3.13t alone, it is not 3.13's.
    own = family_from({"minors": "3.13,3.13t", "cpython": f"3.13t={tarball}"})
    assert (own.tarball("3.13t"), own.tarball("3.13")) == (tarball, None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"minors": "3.12t"}, "unknown Python minor '3.12t'"),
        ({"route": "3.13t=distro"}, "free-threaded 3.13t is built from source only"),
        ({"route": "3.13t=deadsnakes"}, "free-threaded 3.13t is built from source only"),
        ({"cpython": "3.13t=3.12.3"}, "3.12.3 is not a 3.13t release"),
    ],
)
def test_bad_free_threaded_options_are_one_clear_error(values: dict[str, str],
                                                       message: str) -> None:
    with pytest.raises(UsageError, match=message):
        family_from(values)


def test_only_the_free_threaded_build_is_configured_without_the_gil() -> None:
    fam = family(minors="3.12,3.13,3.13t", cpython="3.12.3,3.13.5")
    assert "--disable-gil" in render_image(fam, fam.get("3.13t")).dockerfile
    assert "--disable-gil" not in render_image(fam, fam.get("3.13")).dockerfile
    built = render_image(fam, fam.get("all"))
    stages = [line for line in built.dockerfile.splitlines() if line.startswith("FROM ")]
    assert any(line.endswith(" AS cpython313t") for line in stages)
    assert built.dockerfile.count("--disable-gil") == 1
    # One tarball serves both 3.13 stages; the installer's venv takes the newest GIL build.
    assert sorted(built.tarballs) == ["cpython-3.12.3.tar.xz", "cpython-3.13.5.tar.xz"]
    assert "python3.13 -m venv /opt/snakepacker/installer" in built.dockerfile
    assert "--python python3.13t" in built.dockerfile
    runtime = render_image(fam, fam.get("3.13t")).dockerfile
    assert "ln -s /opt/python/3.13t/bin/python3.13t /usr/local/bin/python3\n" in runtime


def test_all_with_only_free_threaded_builds_runs_its_tools_with_one() -> None:
    fam = family(minors="3.13t", cpython="3.13.5")
    assert "python3.13t -m venv /opt/snakepacker/installer" in render_image(
        fam, fam.get("all")).dockerfile


def test_patch_tags_of_free_threaded_images_keep_the_t() -> None:
    fam = family(minors="3.13t")
    assert fam.patch_tag("3.13t", "3.13.5") == "3.13.5t"
    assert fam.patch_tag("3.13t-pillow", "3.13.5") == "3.13.5t-pillow"
    with pytest.raises(UsageError, match="no patch tag"):
        fam.patch_tag("3.13t", "3.14.0")
    noble = family(distro="noble", minors="3.14t")
    assert noble.patch_tag("3.14t", "3.14.4") == "3.14.4t-noble"


def test_pack_takes_a_free_threaded_python_only_when_asked() -> None:
    built = ["3.10", "3.12", "3.13t"]
    assert choose_minor(None, None, built) == "3.12"
    assert choose_minor("3.13t", None, built) == "3.13t"
    assert choose_minor(None, ">=3.13", built) == "3.13t"  # nothing else fits
    assert choose_minor(None, None, ["3.13t"]) == "3.13t"
    with pytest.raises(UsageError, match=r"3\.14t is not in the family here"):
        choose_minor("3.14t", None, built)
    with pytest.raises(UsageError, match="does not satisfy"):
        choose_minor("3.13t", "<3.13", built)


@pytest.mark.parametrize(("text", "minor"), [
    ("3.13t", "3.13t"),
    ("3.14t\n", "3.14t"),
    ("cpython-3.13.5+freethreaded-linux-x86_64-gnu", "3.13t"),
    ("3.13.5", "3.13"),
])
def test_python_version_files_name_free_threaded_builds(tmp_path: Path, text: str,
                                                        minor: str) -> None:
    (tmp_path / ".python-version").write_text(text)
    assert python_version_file(tmp_path) == minor


def test_inventory_tells_a_free_threaded_interpreter_from_its_gil_build() -> None:
    files = {
        "usr/share/snakepacker/cpython-3.13.json": _record("3.13", "3.13.5"),
        "usr/share/snakepacker/cpython-3.13t.json": _record("3.13t", "3.13.5"),
    }
    # 3.13t's prefix holds python3.13 too, a hard link to python3.13t: not another Python.
    paths = [*files, "opt/python/3.13/bin/python3.13", "opt/python/3.13t/bin/python3.13t",
             "opt/python/3.13t/bin/python3.13"]
    found = inv.inventory(files, paths, {}).interpreters
    assert [(i.minor, i.executable) for i in found] == [
        ("3.13", "/opt/python/3.13/bin/python3.13"),
        ("3.13t", "/opt/python/3.13t/bin/python3.13t"),
    ]
