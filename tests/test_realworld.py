"""Issue 9's fixes that need no engine: requirement files in uv's spelling, --keep-pip
with uv, .python-version, lock files, the size report's buckets, --build-apt."""

from __future__ import annotations

import textwrap

from snakepacker.pack.requirements import for_uv


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
    from snakepacker.pack.dockerfile import render
    from tests.test_pack import DEMO, plan_for

    return render(plan_for(DEMO, *argv))


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
    assert "RUN apt-install libcairo2-dev libgirepository1.0-dev" in build
    assert "libcairo2-dev" not in final
