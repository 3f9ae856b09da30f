"""The family as data: tags, kinds, parents, names, order, narrowing, routes."""

from __future__ import annotations

import re

import pytest

from snakepacker.errors import UsageError
from snakepacker.family.cpython import MINORS, Route, default_release, find_release, releases
from snakepacker.family.distros import DISTROS
from snakepacker.family.images import Family, ImageKind
from snakepacker.options import family_from


def family(**values: object) -> Family:
    return Family(family_from(values))


def test_every_tag_of_the_reference_design_exists_with_its_kind() -> None:
    fam = family()
    kinds = {image.name: image.kind for image in fam}
    assert kinds["base"] is ImageKind.BASE
    assert kinds["all"] is ImageKind.BUILD and kinds["all-pillow"] is ImageKind.BUILD
    for minor in ("3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"):
        assert kinds[minor] is ImageKind.TARGET
        assert kinds[f"{minor}-pillow"] is ImageKind.TARGET
    for app in ("pylama", "pylava", "ipython", "certbot", "black", "gray", "ruff", "jupyterlab",
                "ruff-distroless", "black-distroless", "uv"):
        assert kinds[app] is ImageKind.APP
    assert len(kinds) == 3 + 2 * len(MINORS) + 11


def test_three_registry_names_per_tag_and_a_configurable_namespace() -> None:
    assert family().registry_names("3.12") == (
        "ghcr.io/snakepacker/python/3.12", "ghcr.io/snakepacker/python:3.12",
        "snakepacker/python:3.12",
    )
    assert family(namespace="acme", registry="127.0.0.1:5000").registry_names(
        "all-pillow") == ("127.0.0.1:5000/acme/python/all-pillow",
                          "127.0.0.1:5000/acme/python:all-pillow", "acme/python:all-pillow")


def test_other_distros_get_suffixed_tags_and_accept_both_spellings() -> None:
    fam = family(distro="noble")
    assert fam.tag("3.12") == "3.12-noble"
    assert fam.registry_names("base")[-1] == "snakepacker/python:base-noble"
    assert fam.get("3.12-noble") is fam.get("3.12")


def test_closure_builds_dependencies_first_without_repeats() -> None:
    fam = family(minors="3.10,3.12")
    order = [image.name for image in fam.closure(["3.12-pillow", "3.10"])]
    assert order == ["base", "3.12", "all", "all-pillow", "3.12-pillow", "3.10"]
    for position, name in enumerate(order):
        for dep in fam.get(name).depends_on:
            assert order.index(dep) < position


def test_narrowing_the_minors_narrows_targets_and_all() -> None:
    fam = family(minors="3.12, 3.10")
    assert fam.options.minors == ("3.10", "3.12")
    assert {i.name for i in fam if i.kind is ImageKind.TARGET} == {
        "3.10", "3.12", "3.10-pillow", "3.12-pillow"
    }
    assert "3.10, 3.12" in fam.get("all").summary


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"minors": "3.6"}, "unknown Python minor '3.6'"),
        ({"distro": "hardy"}, "unknown distro 'hardy'"),
        ({"route": "3.12=ppa"}, "unknown route 'ppa'"),
        ({"route": "3.12"}, "--route takes MINOR=ROUTE"),
        ({"route": "3.12=distro"}, "jammy ships Python 3.10, not 3.12"),
        ({"distro": "bookworm", "route": "3.12=deadsnakes"}, "deadsnakes route is for Ubuntu"),
        ({"cpython": "3.12.99"}, "no known CPython tarball for version '3.12.99'"),
        ({"cpython": "3.11=3.12.3"}, "3.12.3 is not a 3.11 release"),
    ],
)
def test_bad_family_options_are_one_clear_usage_error(values: dict, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        family(**values)


def test_unknown_tag_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=re.escape("unknown image tag '3.99'")):
        family().get("3.99")


def test_routes_default_to_the_distro_python_else_source() -> None:
    for distro in DISTROS.values():
        fam = family(distro=distro.name)
        for minor in MINORS:
            spec = fam.options.python(minor)
            expected = Route.DISTRO if minor == distro.system_python else Route.SOURCE
            assert spec.route is expected
            assert (spec.release is not None) == (expected is Route.SOURCE)


def test_forced_routes_and_versions() -> None:
    fam = family(route="3.11=deadsnakes,3.10=source", cpython="3.10=3.10.12")
    assert fam.options.python("3.11").route is Route.DEADSNAKES
    ten = fam.options.python("3.10")
    assert ten.route is Route.SOURCE and ten.release == find_release("3.10.12")
    assert ten.prefix == "/opt/python/3.10" and ten.executable == "/opt/python/3.10/bin/python3.10"


def test_releases_table_is_complete_and_well_formed() -> None:
    for minor in MINORS:
        release = default_release(minor)
        assert release.on_python_org and release.version.startswith(minor.removesuffix("t") + ".")
    for release in releases():
        assert re.fullmatch(r"[0-9a-f]{64}", release.sha256), release
        assert release.on_python_org or release.vendor in ("ubuntu", "debian")
        assert release.on_python_org == (release.pool_path == "-")
    assert find_release("3.12.3").vendor == "ubuntu"
    assert find_release("3.11.2").context_name == "cpython-3.11.2.tar.gz"


def test_every_family_option_can_come_from_the_environment() -> None:
    env = {
        "SNAKEPACKER_DISTRO": "noble", "SNAKEPACKER_MINORS": "3.12,3.13",
        "SNAKEPACKER_ROUTE": "3.13=deadsnakes", "SNAKEPACKER_CPYTHON": "3.12=3.12.3",
        "SNAKEPACKER_NAMESPACE": "acme", "SNAKEPACKER_REGISTRY": "registry.invalid",
        "SNAKEPACKER_QUICK": "1", "SNAKEPACKER_ROOT_IMAGE": "acme/root:noble",
        "SNAKEPACKER_CPYTHON_MIRROR": "/srv/cpython", "SNAKEPACKER_INDEX_URL": "http://x/simple",
    }
    options = family_from({}, env=env)
    assert options.distro.name == "noble" and options.minors == ("3.12", "3.13")
    assert options.python("3.13").route is Route.DEADSNAKES
    assert options.python("3.12").route is Route.DISTRO  # noble ships 3.12
    assert options.releases["3.12"] == find_release("3.12.3")
    assert (options.namespace, options.registry) == ("acme", "registry.invalid")
    assert options.quick and options.root_image == "acme/root:noble"
    assert options.cpython_mirror == "/srv/cpython"
    assert options.network.index_url == "http://x/simple"
    # The command line wins over the environment.
    options = family_from({"namespace": "cli", "minors": "3.14"}, env=env)
    assert options.namespace == "cli" and options.minors == ("3.14",)


def test_every_distro_carries_a_rust_recent_enough_for_current_sdists() -> None:
    # Rust 2024 edition crates need 1.85; the Ubuntu LTS releases' default rustc is 1.75.
    for distro in DISTROS.values():
        major, minor = map(int, distro.rust.version.split("."))
        assert (major, minor) >= (1, 85), distro.name
        if distro.vendor == "ubuntu":
            assert distro.rust.packages == (f"rustc-{distro.rust.version}",
                                            f"cargo-{distro.rust.version}")
            assert distro.rust.bin_dir == f"/usr/lib/rust-{distro.rust.version}/bin"
        else:
            assert distro.rust.packages == ("rustc-web", "cargo-web")
            assert distro.rust.bin_dir is None  # they replace rustc and cargo on PATH
