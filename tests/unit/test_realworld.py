"""Issue 9's fixes that need no engine: requirement files in uv's spelling, --keep-pip
with uv, .python-version, lock files, the size report's buckets, --build-apt."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from snakepacker.engine import ImageFacts
from snakepacker.errors import UsageError
from snakepacker.pack.requirements import for_uv
from tests.helpers import APT_RUN


def test_comma_separated_no_binary_becomes_one_line_per_name() -> None:
    text, notes = for_uv("--no-binary lxml,PyYAML\nlxml==5.2.2\nPyYAML==6.0.1\n")
    assert text.splitlines() == ["--no-binary lxml", "--no-binary PyYAML",
                                 "lxml==5.2.2", "PyYAML==6.0.1"]
    assert len(notes) == 1 and "--no-binary lxml,PyYAML" in notes[0]


def test_equals_spelling_and_only_binary() -> None:
    text, _ = for_uv("--only-binary=:all:\n--no-binary=a,b\n")
    assert text.splitlines() == ["--only-binary :all:", "--no-binary a", "--no-binary b"]


def test_trailing_option_moves_to_its_own_line() -> None:
    text, notes = for_uv("psycopg2==2.9.9 --no-binary psycopg2  # from source\nrequests\n")
    assert text.splitlines() == ["--no-binary psycopg2", "psycopg2==2.9.9", "requests"]
    assert notes


def test_continuations_are_joined_and_the_rest_is_untouched() -> None:
    original = textwrap.dedent("""\
        # pinned
        -r base.txt
        --index-url https://example.invalid/simple
        attrs==23.2.0 \\
            --hash=sha256:0000
        --no-binary :all:
    """)
    text, notes = for_uv(original)
    assert notes == ()
    assert "attrs==23.2.0      --hash=sha256:0000" in text
    assert "--index-url https://example.invalid/simple" in text
    assert "--no-binary :all:" in text


def _render(*argv: str) -> str:
    from snakepacker.pack.dockerfile import render_pack
    from tests.unit.test_pack import DEMO, plan_for

    return render_pack(plan_for(DEMO, *argv))


def test_keep_pip_with_uv_installs_what_it_keeps() -> None:
    text = _render("--keep-pip")
    assert "uv pip install --python /usr/share/python3/app/bin/python pip setuptools wheel" \
        in text
    assert "pip uninstall" not in text
    plain = _render()
    assert "uv pip install --python /usr/share/python3/app/bin/python pip" not in plain


def test_build_apt_is_in_the_build_stage_only() -> None:
    text = _render("--build-apt", "libcairo2-dev", "--build-apt", "libgirepository1.0-dev")
    build, final = text.split("# ============================== final stage")
    assert f"{APT_RUN} libcairo2-dev libgirepository1.0-dev" in build
    assert "libcairo2-dev" not in final


_BASE = [(7_000_000, "RUN base"), (77_300_000, "ADD root")]
_PY = [(37_600_000, "COPY /opt/python/3.12"), *_BASE]
_PILLOW = [(11_300_000, "RUN apt-install libjpeg"), *_PY]
_APP = [(100, "RUN ln -s"), (26_799_900, "COPY /usr/share/python3/app /usr/share/python3/app"),
        (0, "RUN xargs -a apt-packages.txt apt-install"), *_PILLOW]
_LAYERS = {"base": _BASE, "3.12": _PY, "3.12-pillow": _PILLOW, "app": _APP}


class _Images:
    """Sizes and histories of a pillow pack as `docker image inspect` and `docker
    history` give them (bytes; newest layer first). Only the report's arithmetic is
    tested here; the engine tests pack for real."""

    def describe(self, refs: list[str]) -> dict[str, ImageFacts]:
        return {ref: ImageFacts("sha256:" + ref, sum(size for size, _ in _LAYERS[ref]), {})
                for ref in refs}

    def history(self, ref: str) -> list[tuple[int, str]]:
        return _LAYERS[ref]


def test_pillow_report_counts_each_image_against_the_one_below() -> None:
    from snakepacker.pack.report import size_report

    images: Any = _Images()
    report = size_report(images, "app", base_ref="base", parent_ref="3.12-pillow",
                         python_ref="3.12", venv="/usr/share/python3/app")
    assert report.interpreter == 37_600_000  # X.Y over base, not X.Y-pillow over base
    assert report.system_libraries == 11_300_000  # Pillow's packages in X.Y-pillow
    assert report.venv == 26_799_900
    assert report.base + report.interpreter + report.system_libraries + report.venv \
        + report.other == report.total


def _project(tmp_path: Path, python_version: str | None) -> Path:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""\
        [project]
        name = "pinned"
        version = "1"
        requires-python = ">=3.9"
        scripts = {pinned = "app:main"}
    """))
    if python_version is not None:
        (tmp_path / ".python-version").write_text(python_version)
    return tmp_path


@pytest.mark.parametrize(("text", "minor"), [
    ("3.10\n", "3.10"), ("3.10.14\n", "3.10"), ("# pyenv\ncpython-3.10.12-linux-x86_64-gnu\n",
                                                 "3.10"), (None, "3.12")])
def test_python_version_file_picks_the_minor(tmp_path: Path, text: str | None,
                                             minor: str) -> None:
    from snakepacker.family.images import Family
    from snakepacker.pack.packing import plan_for
    from tests.unit.test_pack import options_for

    opts = options_for(_project(tmp_path, text), "--minors", "3.10,3.12")
    plan = plan_for(opts, Family(opts.family), ["3.10", "3.12"], decide_entrypoint=True)
    assert plan.python.minor == minor
    # --python still wins.
    opts = options_for(_project(tmp_path, text), "--minors", "3.10,3.12", "--python", "3.12")
    assert plan_for(opts, Family(opts.family), ["3.10", "3.12"],
                    decide_entrypoint=True).python.minor == "3.12"


def test_unreadable_python_version_file_is_one_error(tmp_path: Path) -> None:
    from snakepacker.pack.project import inspect_source

    with pytest.raises(UsageError, match=r"\.python-version: cannot read a CPython version"):
        inspect_source(str(_project(tmp_path, "system\n")))


def test_healthcheck_probes_the_port_with_wait_for_port() -> None:
    text = _render("--healthcheck", "8080")
    assert 'CMD ["wait-for-port", "-t", "3", "127.0.0.1:8080"]' in text
    assert "HEALTHCHECK" not in _render()
    with pytest.raises(UsageError, match="--healthcheck '0': not a TCP port"):
        _render("--healthcheck", "0")


def _render_source(source: Path) -> str:
    from snakepacker.pack.dockerfile import render_pack
    from tests.unit.test_pack import plan_for

    return render_pack(plan_for(source, "--entrypoint", "python"))


@pytest.mark.parametrize(("distro", "glib"), [
    ("jammy", "libglib2.0-0"), ("noble", "libglib2.0-0t64"), ("bookworm", "libglib2.0-0"),
    ("trixie", "libglib2.0-0t64")])
def test_all_carries_the_manylinux_system_libraries(distro: str, glib: str) -> None:
    from snakepacker.family.images import Family
    from snakepacker.images.render import render_image
    from snakepacker.options import family_from

    fam = Family(family_from({"distro": distro}))
    text = render_image(fam, fam.get("all")).dockerfile
    line = next(line for line in text.splitlines() if "libxext6" in line)
    for package in ("libx11-6", "libxext6", "libxrender1", "libice6", "libsm6", "libgl1",
                    glib, "libexpat1"):
        assert f" {package}" in line
    # Only `all`: the runtime images stay as they were.
    target = render_image(fam, fam.get(fam.distro.system_python)).dockerfile
    assert "libxext6" not in target
