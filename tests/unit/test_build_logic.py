"""snakepacker's own build logic on the fake engine: what is built, in which order, what
is tagged, which root is chosen, how a packed image's size is split. Milliseconds each;
the engine tests check the same paths against docker and podman."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from snakepacker.engine import ImageFacts
from snakepacker.engine.fake import FakeEngine
from snakepacker.errors import BuildError, SnakepackerError
from snakepacker.family.cpython import Route, find_release
from snakepacker.family.distros import DISTROS
from snakepacker.family.images import Family
from snakepacker.images import build
from snakepacker.images.build import build_images, resolve_root
from snakepacker.options import FamilyOptions
from snakepacker.pack.report import SizeReport, notes_for, size_report
from snakepacker.platforms import get_platform

ROOT = "snakepacker/root:jammy"


def family(minors: tuple[str, ...] = ("3.10",), **values: object) -> Family:
    return Family(FamilyOptions(distro=DISTROS["jammy"], minors=minors, **values))  # type: ignore[arg-type]


def quiet(_message: str) -> None:
    pass


def test_a_failed_build_tags_nothing() -> None:
    fake = FakeEngine(images={ROOT: "sha256:root"}, fail_builds={"base"})
    with pytest.raises(BuildError):
        build_images(fake, family(), ["3.10"], progress=quiet)
    assert fake.called("tag") == []
    assert [label for label, *_ in fake.called("build")] == ["base"]


def test_images_built_before_a_failure_keep_their_tags_and_the_failed_one_gets_none() -> None:
    fake = FakeEngine(images={ROOT: "sha256:root"}, fail_builds={"3.10"})
    fam = family()
    with pytest.raises(BuildError):
        build_images(fake, fam, ["3.10"], progress=quiet)
    tagged = [ref for _id, refs in fake.called("tag") for ref in refs]
    assert tagged == list(fam.registry_names("base"))
    assert not fake.image_exists(fam.ref("3.10"))


def test_a_successful_build_tags_every_name_and_passes_the_root_to_base_only() -> None:
    fake = FakeEngine(images={ROOT: "sha256:root"})
    fam = family()
    built = build_images(fake, fam, ["3.10"], progress=quiet)
    assert [b.image.name for b in built] == ["base", "3.10"]
    args = [args for _label, args, _secrets in fake.called("build")]
    assert [a.get("ROOT_IMAGE") for a in args] == [ROOT, None]
    # Each image's labels name its parent by id: base's is the root's.
    assert [a["SNAKEPACKER_PARENT"] for a in args] == ["sha256:root", built[0].image_id]
    assert fake.image_id(fam.ref("3.10")) == built[1].image_id
    assert fake.image_id("ghcr.io/snakepacker/python/3.10") == built[1].image_id
    assert [b.platform for b in fake.builds] == [None, None]  # the engine's own platform


def test_a_foreign_family_asks_for_its_platform_and_stands_on_its_own_chain() -> None:
    """Every build of an arm64 family is asked for linux/arm64; base starts from the
    arm64 root and 3.10 from the arm64 base, by its local -arm64 name; the interpreter's
    version is asked under that platform; the tags carry the platform's suffix."""
    arm64 = get_platform("linux/arm64")
    fake = FakeEngine(images={ROOT: "sha256:root", "snakepacker/root:jammy-arm64": "sha256:arm"},
                      platforms={"sha256:root": "linux/amd64", "sha256:arm": "linux/arm64"})
    fam = Family(FamilyOptions(distro=DISTROS["jammy"], minors=("3.10",)), platform=arm64)
    built = build_images(fake, fam, ["3.10"], progress=quiet)
    assert [(b.label, b.platform) for b in fake.builds] == [
        ("base for linux/arm64", "linux/arm64"), ("3.10 for linux/arm64", "linux/arm64")]
    base, ten = fake.builds
    assert base.build_args["ROOT_IMAGE"] == "snakepacker/root:jammy-arm64"
    assert base.build_args["SNAKEPACKER_PARENT"] == "sha256:arm"
    assert ten.froms == ["snakepacker/python:base-arm64"]
    assert ten.build_args["SNAKEPACKER_PARENT"] == built[0].image_id
    (probe,) = [args for (args,) in fake.called("run")]
    assert probe[:3] == ("--rm", "--platform", "linux/arm64") and built[1].image_id in probe
    assert {ref for _id, refs in fake.called("tag") for ref in refs} == {
        "snakepacker/python:base-arm64", "snakepacker/python:3.10-arm64",
        "snakepacker/python:3.10.0-arm64"}


def test_every_tarball_is_fetched_before_the_first_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeEngine(images={ROOT: "sha256:root"})
    builds_seen_at_fetch: list[int] = []

    def fetch(release: object, **_kw: object) -> Path:
        builds_seen_at_fetch.append(len(fake.called("build")))
        tarball = tmp_path / f"{len(builds_seen_at_fetch)}.tar.xz"
        tarball.write_bytes(b"not really a tarball")
        return tarball

    monkeypatch.setattr(build, "fetch", fetch)
    fam = family(("3.10", "3.12"), routes={"3.12": Route.SOURCE},
                 releases={"3.12": find_release("3.12.3")})
    build_images(fake, fam, ["3.12", "all"], progress=quiet)
    assert builds_seen_at_fetch == [0]  # one tarball (3.12 and all share it), no build yet
    assert len(fake.called("build")) == 3


def test_build_images_go_first_where_their_parents_allow() -> None:
    """`all` before the X.Y images it shares CPython's build stage with, so that the
    engine runs that stage beside `all`'s own first steps; parents still come first."""
    fam = family(("3.10", "3.12"), routes={"3.12": Route.SOURCE},
                 releases={"3.12": find_release("3.12.3")})
    names = lambda order: [image.name for image in order]  # noqa: E731
    assert names(build.build_order(fam, ["3.12", "all"])) == ["base", "all", "3.12"]
    order = names(build.build_order(fam, ["3.12-pillow", "3.10"]))
    assert order == ["base", "all", "all-pillow", "3.12", "3.12-pillow", "3.10"]
    for position, name in enumerate(order):
        assert all(order.index(dep) < position for dep in fam.get(name).depends_on)
    # Without a build image among them, the order is the closure's.
    assert names(build.build_order(fam, ["3.12", "3.10"])) == ["base", "3.12", "3.10"]


def test_a_failed_fetch_builds_and_tags_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEngine(images={ROOT: "sha256:root"})

    def fetch(release: object, **_kw: object) -> Path:
        raise SnakepackerError("sha256 mismatch")

    monkeypatch.setattr(build, "fetch", fetch)
    fam = family(("3.12",), routes={"3.12": Route.SOURCE},
                 releases={"3.12": find_release("3.12.3")})
    with pytest.raises(SnakepackerError):
        build_images(fake, fam, ["3.12"], progress=quiet)
    assert fake.called("build") == [] and fake.called("tag") == []


# -- the root base is built from, in a fixed order -------------------------------------

OFFICIAL = DISTROS["jammy"].official_image


@pytest.mark.parametrize(("present", "pullable", "options", "expected"), [
    # forced wins over everything, present or pulled
    ({"my/root:1", "acme/root:jammy", ROOT, OFFICIAL}, set(), {"root_image": "my/root:1"},
     "my/root:1"),
    (set(), {"my/root:1"}, {"root_image": "my/root:1"}, "my/root:1"),
    # bootstrapped under the family's namespace, then under the default one
    ({"acme/root:jammy", ROOT, OFFICIAL}, set(), {"namespace": "acme"}, "acme/root:jammy"),
    ({ROOT, OFFICIAL}, set(), {"namespace": "acme"}, ROOT),
    # the official image when it is here, pulled when it is not
    ({OFFICIAL}, {OFFICIAL}, {}, OFFICIAL),
    (set(), {OFFICIAL}, {}, OFFICIAL),
])
def test_the_root_is_chosen_in_a_fixed_order(
    present: set[str], pullable: set[str], options: dict[str, str], expected: str
) -> None:
    fake = FakeEngine(images={ref: f"sha256:{ref}" for ref in present}, pullable=pullable)
    assert resolve_root(fake, family(**options), quiet) == expected
    pulled = [ref for (ref,) in fake.called("pull")]
    assert pulled == ([expected] if expected not in present else [])


@pytest.mark.parametrize("options", [{}, {"root_image": "my/root:1"}])
def test_no_root_is_one_error_and_nothing_is_built(options: dict[str, str]) -> None:
    fake = FakeEngine()
    with pytest.raises(SnakepackerError, match="root"):
        build_images(fake, family(**options), ["base"], progress=quiet)
    assert fake.called("build") == []


# -- the size report's buckets -----------------------------------------------------------

def test_size_report_puts_each_layer_of_pack_in_its_bucket() -> None:
    venv = "/usr/share/python3/app"
    parent_layers = [(30_000_000, "RUN /bin/sh -c apt-install python3.10"),
                     (80_000_000, "")]
    ours = [
        (1_000, "RUN /bin/sh -c ln -s /usr/share/python3/app/bin/demo /usr/bin/demo"),
        (20_000_000, f"COPY {venv} {venv} # buildkit"),
        (4_000_000, "RUN /bin/sh -c apt-install libpq5 # buildkit"),
        (500, "COPY /usr/src/app/requirements.txt /usr/share/snakepacker/pack/ # buildkit"),
        (3_000, "COPY /app /app # buildkit"),
    ]
    fake = FakeEngine(
        images={"img": "sha256:img", "base": "sha256:b", "parent": "sha256:p"},
        sizes={"base": 80_000_000, "parent": 110_000_000, "img": 134_004_500},
        histories={"img": ours + parent_layers, "parent": parent_layers},
    )
    report = size_report(fake, "img", base_ref="base", parent_ref="parent", venv=venv,
                         code_dir="/app")
    assert (report.base, report.interpreter) == (80_000_000, 30_000_000)
    assert report.system_libraries == 4_000_000
    assert report.venv == 20_003_000  # the venv and the requirements project's code
    assert report.other == 1_500
    assert report.floor == 134_003_000
    assert fake.called("run") == []  # pip is only measured with keep_pip


def digest_of(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def engine_with_an_app(parent: str = "parent") -> FakeEngine:
    """An app image on PARENT's image (the same history whatever its id)."""
    below = [(30, "RUN /bin/sh -c make install"), (80, "ADD root")]
    return FakeEngine(
        images={"app": digest_of("app"), "base": digest_of("base"),
                "parent": digest_of(parent)},
        sizes={"base": 80, "parent": 110, digest_of("app"): 130},
        histories={digest_of("app"): [(20, "COPY /v /v # buildkit"), *below],
                   "parent": below},
    )


def report_of(engine: FakeEngine, **known: ImageFacts) -> SizeReport:
    return size_report(engine, digest_of("app"), base_ref="base", parent_ref="parent",
                       venv="/v", known=known)


def test_the_report_of_an_image_is_remembered_by_the_ids_below_it() -> None:
    """An image id names its content: the second report of the same image on the same
    images asks the engine nothing (pack's loop when nothing changed). Another parent,
    or a record that cannot be read, is measured again."""
    measured = report_of(first := engine_with_an_app())
    assert (measured.base, measured.interpreter, measured.venv, measured.total) == \
        (80, 30, 20, 130)
    assert first.called("history") and first.called("describe")
    again = engine_with_an_app()
    facts = again.describe(["base", "parent"])
    again.calls.clear()
    assert report_of(again, **facts) == measured
    assert again.calls == []
    other = engine_with_an_app(parent="another parent")
    assert report_of(other) == measured and other.called("history")
    records = list((Path(os.environ["SNAKEPACKER_CACHE"]) / "size-reports").glob("[!.]*"))
    assert len(records) == 2  # one per parent
    for damaged in ("[1, 2]", "not json", '["1", 2, 3, 4, 5, 6, 7]'):
        for record in records:
            record.write_text(damaged)
        third = engine_with_an_app()
        assert report_of(third) == measured and third.called("history")


def test_the_report_of_an_image_named_otherwise_than_by_digest_is_not_remembered() -> None:
    """A ref (an image that may be rebuilt under it) is no key."""
    engine = engine_with_an_app()
    size_report(engine, "app", base_ref="base", parent_ref="parent", venv="/v")
    size_report(engine, "app", base_ref="base", parent_ref="parent", venv="/v")
    assert len(engine.called("history")) == 4
    assert not (Path(os.environ["SNAKEPACKER_CACHE"]) / "size-reports").exists()


def test_size_report_ends_with_the_lighter_twin_of_a_heavy_distribution() -> None:
    assert notes_for(["numpy", "flask"]) == ()
    (note,) = notes_for(["numpy", "OpenCV_Python"])
    assert note.startswith("opencv-python brings the GUI stack (X11, Mesa and LLVM)")
    assert note.endswith("opencv-python-headless is the same library without it")
    assert len(notes_for(["opencv-contrib-python", "opencv-python"])) == 2
    assert notes_for(["opencv-python-headless"]) == ()
    report = SizeReport(80, 30, 600, 100, 0, 810, notes=(note,))
    assert report.lines()[-1] == f"  note: {note}"
    distroless = SizeReport(0, 0, 0, 0, 0, 700, notes=(note,))
    assert distroless.lines() == [f"  {'total (distroless)':<28}     0.0 MB",
                                  f"  note: {note}"]


def test_size_report_measures_build_tools_only_when_pip_was_kept() -> None:
    fake = FakeEngine(images={"img": "sha256:i", "base": "sha256:b", "parent": "sha256:p"},
                      run_output=lambda _args: "123\n4567\n")
    report = size_report(fake, "img", base_ref="base", parent_ref="parent", venv="/v",
                         keep_pip=True)
    assert report.build_tools == 4567
    ((args,),) = fake.called("run")
    assert args[0] == "--rm" and "img" in args
