"""The publishing rules on the fake engine and a recording registry: what is built,
smoke-tested and pushed, in which order, and which lists move. The engine tests in
test_ship.py do the same against docker and a real registry."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from snakepacker.engine.fake import FakeBuild, FakeEngine
from snakepacker.errors import BuildError, EngineError
from snakepacker.family.distros import DISTROS
from snakepacker.family.images import Family
from snakepacker.family.labels import PARENT_ARG
from snakepacker.options import FamilyOptions
from snakepacker.platforms import Platform, get_platform
from snakepacker.refs import repository
from snakepacker.ship.matrix import merge, push_by_digest, read_records
from snakepacker.ship.shipping import (
    EngineRegistry,
    Publish,
    Shipment,
    family_shipments,
    pack_shipments,
    push_family,
    ship,
    summary,
)
from snakepacker.ship.signing import Predicate

AMD64, ARM64 = get_platform("linux/amd64"), get_platform("linux/arm64")
REG = "127.0.0.1:5999"
HOME = f"{REG}/ghcr/snakepacker/python"  # the repository every list is made in
ROOTS = {"snakepacker/root:bookworm": "sha256:root",
         "snakepacker/root:bookworm-arm64": "sha256:rootarm"}
ROOT_PLATFORMS = {"sha256:root": "linux/amd64", "sha256:rootarm": "linux/arm64"}


def engine_with_roots(**values: object) -> FakeEngine:
    """A fake engine holding bookworm's roots for amd64 and arm64, each for its own."""
    return FakeEngine(images=dict(ROOTS), platforms=dict(ROOT_PLATFORMS), **values)  # type: ignore[arg-type]


@dataclass
class FakeRegistry:
    """Tags, images and lists in memory; every call recorded; pushes of refs in FAIL fail.

    A push stores the image the engine holds under the ref, as the platform that image
    was built for (the fake engine's record of the build), whatever the tag is called;
    a list is made of pushed images only, each entered under its own platform, as a
    real registry reads it from the member's config. So what a test reads here is what
    snakepacker really sent, not what its names suggest. A repository keeps every
    manifest it was given, tagged or not, and serves it as REPO@DIGEST; WRITING is
    called before each list is written or copied, and may raise."""

    engine: FakeEngine
    fail: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)  # ref -> digest
    pushed: dict[str, tuple[str, str]] = field(default_factory=dict)  # ref -> (id, platform)
    images: dict[str, str] = field(default_factory=dict)  # digest of an image -> platform
    lists: dict[str, dict[str, str]] = field(default_factory=dict)  # digest -> entries
    calls: list[tuple[str, str]] = field(default_factory=list)
    writing: Callable[[str, str, str], None] | None = None  # (kind, source, destination)
    signed: list[tuple[str, Path]] = field(default_factory=list)  # ref, key
    attested: list[tuple[str, str, Path]] = field(default_factory=list)  # ref, kind, key
    copied_signatures: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

    def _tag(self, ref: str, digest: str) -> None:
        self.tags[ref] = digest
        self.tags[f"{repository(ref)}@{digest}"] = digest  # kept by its repository

    def push(self, ref: str) -> str:
        self.calls.append(("push", ref))
        if ref in self.fail:
            raise EngineError(f"pushing {ref} failed: connection refused")
        image_id, platform = self.engine.images[ref], self.engine.platform_of(ref)
        digest = "sha256:" + hashlib.sha256(image_id.encode()).hexdigest()
        self.pushed[ref] = (image_id, platform)
        self.images[digest] = platform
        self._tag(ref, digest)
        return digest

    def remote_digest(self, ref: str) -> str | None:
        self.calls.append(("read", ref))
        return self.tags.get(ref)

    def entries(self, ref: str) -> dict[str, str] | None:
        self.calls.append(("read", ref))
        digest = self.tags.get(ref)
        return None if digest is None else dict(self.lists.get(digest, {}))

    def make_list(self, ref: str, members: Sequence[str]) -> str:
        self.calls.append(("make_list", ref))
        if self.writing is not None:
            self.writing("make_list", "", ref)
        entries: dict[str, str] = {}
        for member in members:
            digest = member.split("@")[1]
            if digest not in self.images:
                raise EngineError(f"making the list {ref} failed: {member}: manifest unknown")
            platform = self.images[digest]
            assert platform not in entries, f"{ref}: two members for {platform}"
            entries[platform] = digest
        digest = "sha256:" + hashlib.sha256(repr(sorted(entries.items())).encode()).hexdigest()
        self.lists[digest] = entries
        self._tag(ref, digest)
        return digest

    def copy_all(self, source: str, destination: str) -> None:
        self.calls.append(("copy_all", destination))
        if self.writing is not None:
            self.writing("copy_all", source, destination)
        if source not in self.tags:
            raise EngineError(f"copying {source} failed: manifest unknown")
        self._tag(destination, self.tags[source])

    def sign(self, ref: str, key: Path) -> None:
        self.calls.append(("sign", ref))
        self.signed.append((ref, key))

    def attest(self, ref: str, predicate: Predicate, key: Path) -> None:
        self.calls.append(("attest", ref))
        self.attested.append((ref, predicate.kind, key))

    def copy_signatures(self, source: str, destination: str, digests: Sequence[str]) -> None:
        self.calls.append(("copy_signatures", destination))
        self.copied_signatures.append((repository(source), repository(destination),
                                       tuple(digests)))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]

    def writes(self) -> list[tuple[str, str]]:
        return [(kind, ref) for kind, ref in self.calls if kind in ("make_list", "copy_all")]

    def put_list(self, ref: str, entries: dict[str, str]) -> str:
        """A list another build left under REF."""
        digest = "sha256:" + hashlib.sha256(repr(sorted(entries.items())).encode()).hexdigest()
        self.lists[digest] = entries
        self._tag(ref, digest)
        return digest


def families(*platforms: Platform) -> dict[Platform, Family]:
    options = FamilyOptions(distro=DISTROS["bookworm"], minors=("3.11",),
                            registry=f"{REG}/ghcr")  # the hub is REG itself
    return {p: Family(options, platform=p) for p in platforms}


def quiet(_message: str) -> None:
    pass


def push(engine: FakeEngine, registry: FakeRegistry, *names: str,
         platforms: tuple[Platform, ...] = (AMD64, ARM64)):
    return push_family(engine, registry, families(*platforms), list(names), hub=REG,
                       progress=quiet)


def asked(engine: FakeEngine) -> list[tuple[str, str | None]]:
    """(label, platform asked for) of every build, in order; None: the engine's own."""
    return [(build.label, build.platform) for build in engine.builds]


def test_every_platform_is_built_from_its_own_root_and_pushed_before_any_list() -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    shipped = push(engine, registry, "3.11")
    # Each chain was asked for its own platform (amd64 is this engine's), base of each
    # from that platform's root.
    assert asked(engine) == [
        ("base-bookworm", None), ("3.11-bookworm", None),
        ("base-bookworm for linux/arm64", "linux/arm64"),
        ("3.11-bookworm for linux/arm64", "linux/arm64"),
    ]
    roots = [b.build_args["ROOT_IMAGE"] for b in engine.builds if "ROOT_IMAGE" in b.build_args]
    assert roots == ["snakepacker/root:bookworm", "snakepacker/root:bookworm-arm64"]
    kinds = registry.kinds()
    assert kinds.count("push") == 4  # 3.11 and its patch tag 3.11.0, for two platforms
    assert max(i for i, k in enumerate(kinds) if k == "push") < kinds.index("make_list")
    amd, arm = engine.builds[1].image_id, engine.builds[3].image_id  # the two 3.11 builds
    assert [s.tag for s in shipped] == ["3.11-bookworm", "3.11.0-bookworm"]
    for s in shipped:
        assert s.platforms == ("linux/amd64", "linux/arm64")
        # Under each per-platform tag went that platform's own build, and the list names
        # exactly those two pushes, each as the platform it was built for.
        assert registry.pushed[f"{HOME}:{s.tag}-amd64"] == (amd, "linux/amd64")
        assert registry.pushed[f"{HOME}:{s.tag}-arm64"] == (arm, "linux/arm64")
        assert registry.lists[s.digest] == {
            "linux/amd64": registry.tags[f"{HOME}:{s.tag}-amd64"],
            "linux/arm64": registry.tags[f"{HOME}:{s.tag}-arm64"],
        }
        assert registry.tags[f"{HOME}:{s.tag}"] == s.digest
        assert registry.tags[f"{REG}/ghcr/snakepacker/python/{s.tag}"] == s.digest
        assert registry.tags[f"{REG}/snakepacker/python:{s.tag}"] == s.digest
        assert len(s.moved) == 3


def _stages(build: FakeBuild) -> set[str]:
    return {line.split()[-1] for line in build.dockerfile.splitlines()
            if line.startswith("FROM ") and " AS " in line}


def test_the_arm64_chain_never_uses_an_amd64_parent() -> None:
    """Every arm64 build names only arm64 images: the arm64 root, or the -arm64 local
    tags of this chain; the parent its labels record is an image built for arm64; and
    the arm64 local names hold images built for arm64. The amd64 chain, likewise, never
    names an arm64 image."""
    engine = engine_with_roots()
    push(engine, FakeRegistry(engine), "3.11")
    arm_builds = [b for b in engine.builds if b.platform == "linux/arm64"]
    assert [b.label for b in arm_builds] == ["base-bookworm for linux/arm64",
                                            "3.11-bookworm for linux/arm64"]
    assert arm_builds[0].build_args["ROOT_IMAGE"] == "snakepacker/root:bookworm-arm64"
    assert arm_builds[1].froms == ["snakepacker/python:base-bookworm-arm64"]
    for build in engine.builds:
        named = [image for image in build.froms
                 if image != "${ROOT_IMAGE}" and image not in _stages(build)]
        if build.platform == "linux/arm64":
            assert all(image.endswith("-arm64") for image in named), (build.label, named)
        else:
            assert not any(image.endswith("-arm64") for image in named), (build.label, named)
        assert engine.platforms[build.build_args[PARENT_ARG]] == (
            build.platform or engine.native), build.label
    arm = families(ARM64)[ARM64]
    for ref in (*arm.local_names("base"), *arm.local_names("3.11"),
                "snakepacker/python:3.11.0-bookworm-arm64"):
        assert engine.platform_of(ref) == "linux/arm64", ref
    for ref in families(AMD64)[AMD64].local_names("3.11"):
        assert engine.platform_of(ref) == "linux/amd64", ref


def test_a_failed_build_pushes_nothing() -> None:
    engine = engine_with_roots(fail_builds={"3.11-bookworm for linux/arm64"})
    registry = FakeRegistry(engine)
    with pytest.raises(BuildError):
        push(engine, registry, "3.11")
    assert registry.calls == []


def test_a_failed_smoke_test_pushes_nothing() -> None:
    engine = engine_with_roots()
    # python3 reports an amd64 machine everywhere: the arm64 image would be mislabelled
    engine.run_output = lambda args: "3.11.0\n" if "python_version()" in " ".join(args) \
        else "x86_64\n"
    registry = FakeRegistry(engine)
    with pytest.raises(BuildError, match=r"smoke test of 3\.11-bookworm on linux/arm64"):
        push(engine, registry, "3.11")
    assert registry.calls == []


def test_a_failed_push_moves_no_list() -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine, fail={f"{REG}/ghcr/snakepacker/python:3.11.0-bookworm-arm64"})
    with pytest.raises(EngineError):
        push(engine, registry, "3.11")
    assert "make_list" not in registry.kinds() and "copy_all" not in registry.kinds()


def test_pushing_the_same_build_twice_moves_nothing() -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    first = push(engine, registry, "3.11", "base")
    registry.calls.clear()
    second = push(engine, registry, "3.11", "base")
    assert [s.digest for s in second] == [s.digest for s in first]
    assert all(s.moved == () for s in second)
    assert "copy_all" not in registry.kinds()
    assert summary(second)[1].split()[-1] == "unchanged"


def taken_patch_tag(registry: FakeRegistry) -> str:
    """3.11's patch tag, already in the registry at a list of other images
    ("sha256:old"); its reference back."""
    patch = f"{REG}/ghcr/snakepacker/python:3.11.0-bookworm"
    registry.tags[patch] = "sha256:old"
    registry.lists["sha256:old"] = {"linux/amd64": "sha256:elsewhere"}
    return patch


def test_an_existing_patch_tag_at_other_images_is_kept() -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    patch = taken_patch_tag(registry)
    shipped = {s.tag: s for s in push(engine, registry, "3.11")}
    assert shipped["3.11.0-bookworm"].kept and registry.tags[patch] == "sha256:old"
    assert ("make_list", patch) not in registry.calls
    assert len(shipped["3.11-bookworm"].moved) == 3  # the moving tag still moves
    assert "kept (immutable)" in "\n".join(summary(list(shipped.values())))


def test_a_list_names_exactly_the_platforms_asked_for() -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    shipped = push(engine, registry, "base", platforms=(ARM64,))
    assert asked(engine) == [("base-bookworm for linux/arm64", "linux/arm64")]
    assert registry.pushed == {f"{HOME}:base-bookworm-arm64": (engine.builds[0].image_id,
                                                              "linux/arm64")}
    assert registry.lists[shipped[0].digest] == {
        "linux/arm64": registry.tags[f"{HOME}:base-bookworm-arm64"]}
    assert all(repository(ref).startswith(f"{REG}/") for _k, ref in registry.calls)


def test_pack_pushes_need_a_registry_in_every_tag() -> None:
    from snakepacker.errors import UsageError

    with pytest.raises(UsageError, match="names no registry"):
        pack_shipments(("demo:1",), {})
    assert pack_shipments((f"{REG}/demo:1",), {})[0].names == (f"{REG}/demo:1",)


def test_ship_of_a_pack_pushes_per_platform_tags_then_one_list() -> None:
    engine = FakeEngine(images={"demo-amd": "sha256:a", "demo-arm": "sha256:b"},
                        platforms={"sha256:a": "linux/amd64", "sha256:b": "linux/arm64"})
    registry = FakeRegistry(engine)
    shipment = Shipment(f"{REG}/demo:1", {AMD64: "demo-amd", ARM64: "demo-arm"},
                        (f"{REG}/demo:1",), python=True)
    (shipped,) = ship(engine, registry, [shipment], quiet)
    assert [c for c in registry.calls if c[0] != "read"] == [
        ("push", f"{REG}/demo:1-amd64"), ("push", f"{REG}/demo:1-arm64"),
        ("make_list", f"{REG}/demo:1")]
    assert registry.pushed == {f"{REG}/demo:1-amd64": ("sha256:a", "linux/amd64"),
                               f"{REG}/demo:1-arm64": ("sha256:b", "linux/arm64")}
    assert registry.lists[shipped.digest] == {
        "linux/amd64": registry.tags[f"{REG}/demo:1-amd64"],
        "linux/arm64": registry.tags[f"{REG}/demo:1-arm64"]}


def test_platforms_come_from_the_table_and_default_to_this_machine() -> None:
    from snakepacker.options import BUILD, PACK, platforms_of, read
    from snakepacker.platforms import native_platform

    assert platforms_of(read(BUILD, {}, env={})) == (native_platform(),)
    env = {"SNAKEPACKER_PLATFORMS": "linux/amd64, linux/arm64"}
    assert [p.name for p in platforms_of(read(BUILD, {}, env=env))] == [
        "linux/amd64", "linux/arm64"]
    tool = {"platform": ["linux/arm64"]}
    assert [p.name for p in platforms_of(read(PACK, {}, env={}, pyproject=tool))] == [
        "linux/arm64"]


def test_a_platform_named_twice_or_unknown_is_a_usage_error() -> None:
    from snakepacker.errors import UsageError
    from snakepacker.options import BUILD, platforms_of, read

    for bad in ("linux/amd64,linux/amd64", "linux/s390x"):
        with pytest.raises(UsageError):
            platforms_of(read(BUILD, {"platform": [bad]}, env={}))


def test_patch_tags_follow_the_tag_and_refuse_another_minor() -> None:
    from snakepacker.errors import UsageError

    fam = families(AMD64)[AMD64]
    assert fam.patch_tag("3.11", "3.11.2") == "3.11.2-bookworm"
    assert fam.patch_tag("3.11-pillow", "3.11.2") == "3.11.2-pillow-bookworm"
    with pytest.raises(UsageError):
        fam.patch_tag("3.11", "3.12.1")
    with pytest.raises(UsageError):
        fam.patch_tag("base", "3.11.2")


KEY = Path("cosign.key")


def predicates_stub(image: str) -> list[Predicate]:
    return [Predicate("cyclonedx", f"sbom of {image}".encode()),
            Predicate("slsaprovenance1", f"provenance of {image}".encode())]


SIGNED = Publish(KEY, predicates_stub)


def test_a_signed_push_signs_and_attests_each_image_before_any_list() -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    shipped = push_family(engine, registry, families(AMD64, ARM64), ["base"], hub=REG,
                          progress=quiet, publish=SIGNED)
    kinds = registry.kinds()
    first_list = kinds.index("make_list")
    members = [registry.tags[f"{HOME}:base-bookworm-{p}"] for p in ("amd64", "arm64")]
    # Each platform's image: pushed, signed, its SBOM and provenance attested, all by
    # digest in the list's repository and with the key given, before the list.
    assert [(ref, kind) for ref, kind, _key in registry.attested] == [
        (f"{HOME}@{digest}", kind) for digest in members
        for kind in ("cyclonedx", "slsaprovenance1")]
    assert {key for *_x, key in registry.attested} == {KEY}
    image_signatures = [i for i, (kind, ref) in enumerate(registry.calls)
                        if kind == "sign" and ref.split("@")[1] in members]
    assert len(image_signatures) == 2
    assert max(*image_signatures, *(i for i, k in enumerate(kinds) if k == "attest")) \
        < first_list
    # The list is signed once it is written, by its digest, before any other name moves
    # to it; each other name gets the signatures of the list and its members first.
    (list_digest,) = [s.digest for s in shipped]
    list_signature = registry.calls.index(("sign", f"{HOME}@{list_digest}"))
    assert first_list < list_signature < kinds.index("copy_all")
    assert registry.copied_signatures == [
        (HOME, f"{REG}/ghcr/snakepacker/python/base-bookworm", (list_digest, *members)),
        (HOME, f"{REG}/snakepacker/python", (list_digest, *members))]
    assert all(list_signature < i for i, k in enumerate(kinds) if k == "copy_signatures")
    for kind, destination in registry.calls:
        if kind == "copy_all":
            assert registry.calls.index(("copy_signatures", destination)) < \
                registry.calls.index(("copy_all", destination))


def test_without_a_key_nothing_is_signed_or_attested() -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    push_family(engine, registry, families(AMD64, ARM64), ["base"], hub=REG, progress=quiet)
    assert {"sign", "attest", "copy_signatures"}.isdisjoint(registry.kinds())
    assert registry.kinds().count("make_list") == 1


def test_a_signed_push_of_an_unchanged_build_signs_the_list_it_leaves() -> None:
    """The list already there is the one wanted: it is not written again, but it is
    signed (an earlier push may have gone up without a key)."""
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    (first,) = push_family(engine, registry, families(AMD64), ["base"], hub=REG,
                           progress=quiet)
    registry.calls.clear()
    (again,) = push_family(engine, registry, families(AMD64), ["base"], hub=REG,
                           progress=quiet, publish=SIGNED)
    assert again.digest == first.digest and again.moved == ()
    assert "make_list" not in registry.kinds() and "copy_all" not in registry.kinds()
    assert ("sign", f"{HOME}@{first.digest}") in registry.calls


def test_a_kept_patch_tag_is_not_signed() -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    patch = taken_patch_tag(registry)
    push_family(engine, registry, families(AMD64), ["3.11"], hub=REG, progress=quiet,
                publish=SIGNED)
    assert ("sign", f"{repository(patch)}@sha256:old") not in registry.calls
    signed_lists = [ref for ref, _key in registry.signed if ref.split("@")[1] in
                    registry.lists]
    assert len(signed_lists) == 1  # 3.11-bookworm's list only


def test_the_merge_signs_each_list_after_writing_it(tmp_path: Path) -> None:
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    for platform in (AMD64, ARM64):
        fams = families(platform)
        built = {platform: build(engine, fams[platform], ["base"])}
        shipments = family_shipments(fams, built, ["base"], REG, quiet)
        push_by_digest(engine, registry, shipments, tmp_path / platform.suffix, quiet,
                       SIGNED)
    assert registry.kinds().count("attest") == 4 and "make_list" not in registry.kinds()
    registry.calls.clear()
    # Without a key (the same registry's contents, its own record of calls): no signature.
    plain = FakeRegistry(engine, tags=registry.tags, lists=registry.lists,
                         images=registry.images)
    (unsigned,) = merge(read_records(tmp_path), plain, (AMD64, ARM64))
    assert "make_list" in plain.kinds() and "sign" not in plain.kinds()
    (shipped,) = merge(read_records(tmp_path), registry, (AMD64, ARM64), key=KEY)
    assert shipped.digest == unsigned.digest
    writes = [call for call in registry.calls if call[0] != "read"]
    assert writes[0] == ("sign", f"{HOME}@{shipped.digest}")  # the list was there
    registry.tags.pop(f"{HOME}:base-bookworm")  # now it must be written, then signed
    registry.calls.clear()
    merge(read_records(tmp_path), registry, (AMD64, ARM64), key=KEY)
    kinds = registry.kinds()
    assert kinds.index("make_list") < kinds.index("sign") < kinds.index("copy_signatures")


def test_jobs_pushed_by_digest_then_merged_give_the_lists_a_push_gives(
        tmp_path: Path) -> None:
    """Two CI jobs (one platform each) push by digest and leave records; the merge
    writes the same lists `images push` of both platforms writes."""
    engine = engine_with_roots()
    registry = FakeRegistry(engine)
    for platform in (AMD64, ARM64):
        fams = families(platform)
        built = {platform: build(engine, fams[platform], ["3.11"])}
        shipments = family_shipments(fams, built, ["3.11"], REG, quiet)
        push_by_digest(engine, registry, shipments, tmp_path / platform.suffix, quiet)
    assert "make_list" not in registry.kinds()  # the jobs write no list
    records = read_records(tmp_path)
    # Each record names the platform the image it points at was really built for.
    assert sorted((r.tag, r.platform) for r in records) == [
        (tag, p) for tag in ("3.11-bookworm", "3.11.0-bookworm")
        for p in ("linux/amd64", "linux/arm64")]
    assert all(registry.images[r.digest] == r.platform for r in records)
    merged = {s.tag: s.digest for s in merge(records, registry, [AMD64, ARM64])}
    direct = FakeRegistry(engine)
    pushed = {s.tag: s.digest for s in push_family(engine, direct, families(AMD64, ARM64),
                                                   ["3.11"], hub=REG, progress=quiet)}
    assert merged == pushed and set(merged) == {"3.11-bookworm", "3.11.0-bookworm"}


def build(engine: FakeEngine, family: Family, names: list[str]):
    from snakepacker.images.build import build_images

    return build_images(engine, family, names, progress=quiet)


def test_lists_are_made_by_the_engine_in_use() -> None:
    """docker and podman make lists with different commands: EngineRegistry asks the
    engine, never one client's command line for both."""
    engine = FakeEngine()
    members = [f"{REG}/ns/python@sha256:{'1' * 64}", f"{REG}/ns/python@sha256:{'2' * 64}"]
    digest = EngineRegistry(engine).make_list(f"{REG}/ns/python:1", members)
    assert engine.called("make_list") == [(f"{REG}/ns/python:1", tuple(members))]
    assert digest.startswith("sha256:")


# -- the names of a tag: all read first, a patch tag kept on all, put back on failure ----

HUB = "127.0.0.1:5998"  # the short names' registry


def names_of(tag: str) -> tuple[str, str, str]:
    return (f"{REG}/ns/python:{tag}", f"{REG}/ns/python/{tag}", f"{HUB}/ns/python:{tag}")


def builds(*labels: str) -> FakeEngine:
    """A fake engine holding one amd64 image per label (each another build)."""
    return FakeEngine(images={label: f"sha256:{label}" for label in labels},
                      platforms={f"sha256:{label}": "linux/amd64" for label in labels})


def moving(build: str, tag: str = "3.12", names: tuple[str, ...] | None = None) -> Shipment:
    return Shipment(tag, {AMD64: build}, names or names_of(tag), python=False)


def patch(build: str) -> Shipment:
    return Shipment("3.12.3", {AMD64: build}, names_of("3.12.3"), python=False,
                    immutable=True)


def refuse(kind: str, destination: str):
    """A WRITING hook: the KIND write to DESTINATION fails; restores (copies from
    REPO@DIGEST) go through."""
    def writing(what: str, source: str, to: str) -> None:
        if what == kind and to == destination and "@" not in source:
            raise EngineError(f"writing {to} failed: connection reset")
    return writing


def test_every_name_of_every_tag_is_read_before_the_first_list_is_written() -> None:
    engine = builds("one")
    registry = FakeRegistry(engine)
    ship(engine, registry, [moving("one"), patch("one")], quiet)
    kinds = registry.kinds()
    first_write = min(kinds.index("make_list"), kinds.index("copy_all"))
    read_first = {ref for kind, ref in registry.calls[:first_write] if kind == "read"}
    assert {*names_of("3.12"), *names_of("3.12.3")} <= read_first
    assert "read" not in kinds[first_write:]  # and nothing is checked between writes


def test_a_patch_tag_another_build_holds_on_one_name_is_kept_on_all_of_them() -> None:
    engine = builds("one")
    registry = FakeRegistry(engine)
    home, long_, hub = names_of("3.12.3")
    old = registry.put_list(hub, {"linux/amd64": "sha256:" + "e" * 64})
    heard: list[str] = []
    shipped = ship(engine, registry, [moving("one"), patch("one")], heard.append)
    by_tag = {s.tag: s for s in shipped}
    kept = by_tag["3.12.3"]
    assert kept.kept and kept.held == ((hub, old),) and kept.moved == () and kept.digest == ""
    # Nothing was written under any of its names: the two missing stay missing.
    assert (home not in registry.tags, long_ not in registry.tags, registry.tags[hub]) == (
        True, True, old)
    assert not {ref for _kind, ref in registry.writes()} & {home, long_, hub}
    assert len(by_tag["3.12"].moved) == 3  # the moving tag still moved
    said = "\n".join(heard)
    assert f"  {hub}: lists other images ({old[:19]})" in said
    assert f"  {home}: not there" in said and f"  {long_}: not there" in said
    assert summary(shipped)[2].split()[-2:] == ["kept", "(immutable)"]


def test_a_second_build_under_one_patch_tag_moves_none_of_its_names() -> None:
    engine = builds("one", "two")
    registry = FakeRegistry(engine)
    first = {s.tag: s for s in ship(engine, registry, [moving("one"), patch("one")], quiet)}
    assert first["3.12.3"].moved == names_of("3.12.3")
    second = {s.tag: s for s in ship(engine, registry, [moving("two"), patch("two")], quiet)}
    assert second["3.12.3"].kept and {n for n, _ in second["3.12.3"].held} == set(
        names_of("3.12.3"))
    assert {registry.tags[name] for name in names_of("3.12.3")} == {first["3.12.3"].digest}
    assert second["3.12"].digest != first["3.12"].digest
    assert {registry.tags[name] for name in names_of("3.12")} == {second["3.12"].digest}


def test_a_patch_tag_an_interrupted_push_left_on_one_name_gets_its_other_names() -> None:
    engine = builds("one")
    registry = FakeRegistry(engine)
    (first,) = ship(engine, registry, [patch("one")], quiet)
    home, long_, hub = names_of("3.12.3")
    del registry.tags[long_], registry.tags[hub]
    registry.calls.clear()
    (again,) = ship(engine, registry, [patch("one")], quiet)
    assert not again.kept and again.moved == (long_, hub) and again.digest == first.digest
    assert registry.writes() == [("copy_all", long_), ("copy_all", hub)]  # home not rewritten
    assert {registry.tags[name] for name in (home, long_, hub)} == {first.digest}


def test_a_copy_failing_half_way_puts_back_the_names_already_moved() -> None:
    engine = builds("one", "two")
    registry = FakeRegistry(engine)
    ship(engine, registry, [moving("one")], quiet)
    home, long_, hub = names_of("3.12")
    before = {name: registry.tags[name] for name in (home, long_, hub)}
    registry.writing = refuse("copy_all", hub)  # the second copy fails
    with pytest.raises(EngineError) as caught:
        ship(engine, registry, [moving("two")], quiet)
    assert {name: registry.tags[name] for name in (home, long_, hub)} == before
    assert str(caught.value) == (f"writing {hub} failed: connection reset; 2 name(s) had "
                                 f"moved; put back: {home}, {long_}")


def test_a_failed_second_list_puts_back_the_first_and_names_what_cannot_be() -> None:
    engine = builds("one", "two")
    registry = FakeRegistry(engine)
    home, long_, hub = names_of("3.12")
    ship(engine, registry, [moving("one", names=(home, long_))], quiet)  # hub: not yet
    before = {name: registry.tags[name] for name in (home, long_)}
    failing = names_of("3.12.3")[0]
    registry.writing = refuse("make_list", failing)
    with pytest.raises(EngineError) as caught:
        ship(engine, registry, [moving("two"), patch("two")], quiet)
    assert {name: registry.tags[name] for name in (home, long_)} == before
    assert registry.tags[hub] != before[home]  # new: it stays, and the error says so
    assert str(caught.value) == (f"writing {failing} failed: connection reset; 3 name(s) "
                                 f"had moved; put back: {home}, {long_}; new, left in place: "
                                 f"{hub}")


def test_a_name_that_cannot_be_put_back_is_named_with_its_earlier_digest() -> None:
    engine = builds("one", "two")
    registry = FakeRegistry(engine)
    ship(engine, registry, [moving("one")], quiet)
    home, long_, hub = names_of("3.12")
    earlier = registry.tags[long_]

    def writing(what: str, source: str, to: str) -> None:
        if to == hub:  # the registry took the copy, then the answer was lost
            registry.tags[hub] = registry.tags[source]
            raise EngineError(f"writing {hub} failed: connection reset")
        if to == long_ and "@" in source:
            raise EngineError("denied")

    registry.writing = writing
    with pytest.raises(EngineError) as caught:
        ship(engine, registry, [moving("two")], quiet)
    assert str(caught.value).endswith(f"3 name(s) had moved; put back: {home}; NOT put back: "
                                      f"{long_} (was {earlier}), {hub} (was {earlier})")
    assert registry.tags[home] == earlier


def test_merge_refuses_a_list_without_a_platform_the_matrix_plans(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from snakepacker.errors import UsageError
    from snakepacker.ship import matrix
    from snakepacker.ship.matrix import Pushed

    registry = FakeRegistry(FakeEngine())
    digests = {"linux/amd64": "sha256:" + "a" * 64, "linux/arm64": "sha256:" + "b" * 64}
    registry.images.update({d: p for p, d in digests.items()})

    def records(tag: str) -> list[Pushed]:
        return [Pushed(tag, p, f"{REG}/ns/python", d, names_of(tag)) for p, d in digests.items()]

    # The matrix builds every distro for arm/v7 too: without --platform, no list.
    with pytest.raises(UsageError, match=r"^3\.12: no image was pushed for linux/arm/v7 "):
        merge(records("3.12"), registry)
    # With --platform the list is exactly those platforms, each with its record.
    (one,) = merge(records("3.12"), registry, [ARM64])
    assert registry.lists[one.digest] == {"linux/arm64": digests["linux/arm64"]}
    with pytest.raises(UsageError, match=r"no image was pushed for linux/arm/v7"):
        merge(records("3.12"), registry, [AMD64, get_platform("linux/arm/v7")])
    # The expected platforms are the plan's for the tag's distro, not the records'.
    monkeypatch.setattr(matrix, "_UNSUPPORTED", frozenset({("bookworm", "linux/arm/v7")}))
    (both,) = merge(records("3.12-bookworm"), registry)
    assert set(registry.lists[both.digest]) == {"linux/amd64", "linux/arm64"}
    with pytest.raises(UsageError, match=r"3\.12: no image was pushed for linux/arm/v7"):
        merge(records("3.12"), registry)


def test_the_commands_say_once_that_without_a_key_nothing_is_signed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from snakepacker import options as opts
    from snakepacker.cli.common import publish_of
    from snakepacker.errors import UsageError

    assert publish_of(FakeEngine(), opts.read(opts.PUSH, {}, env={})) is None
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "no --sign KEY" in said and "unsigned" in said
    with pytest.raises(UsageError, match="unknown SBOM format"):
        publish_of(FakeEngine(), opts.read(opts.PACK, {"sbom_format": "xml"}, env={}))
    (tmp_path / "cosign").write_text("#!/bin/sh\nexit 0\n")  # found, never run here
    (tmp_path / "cosign").chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))
        with pytest.raises(UsageError, match="no such key file"):
            publish_of(FakeEngine(), opts.read(opts.PUSH, {"sign": str(tmp_path / "k")},
                                               env={}))
        key = tmp_path / "cosign.key"
        key.write_text("a key\n")
        publish = publish_of(FakeEngine(), opts.read(opts.BUILD, {
            "sign": str(key), "sbom_format": "spdx"}, env={}))
    assert publish is not None and publish.key == key
