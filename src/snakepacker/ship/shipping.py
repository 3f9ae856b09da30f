"""Publishing built images: every platform's image pushed, then one list per name and tag.

The order is the safety: everything is built and smoke-tested before the first push,
every platform's image of every tag is pushed before the first list is written, and a
list is the last thing that moves. So a failed build, smoke test or push leaves every
list in the registry as it was; at worst a per-platform tag (``TAG-arm64``) or an
unnamed manifest was added, which nothing pulls by the published names.

Each tag's list is made once, under the registry's one-repository name
(``R/NS/python:TAG``), its members pinned by digest in that repository; the other names
get a byte-for-byte copy, so all names of a tag carry the same digest. Pushing an
unchanged build again moves nothing: the same images push to the same digests, the
same list has the same bytes, and a name already at that digest is left alone.

Patch tags (3.12.3) are immutable: when the registry already has one naming other
images, it is kept as it is and the summary says so; that is no error, since the
moving tags (3.12) still moved and the next patch release gets a tag of its own.

With a signing key (Publish), each platform's image is signed and its SBOM and SLSA
provenance attested as it is pushed, before any list; each list is signed once it is
written, and its other names get the signatures and attestations of the list and its
members before they move to it, so every name verifies. Without a key nothing is
signed or attested.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from snakepacker import refs
from snakepacker.engine import Engine, skopeo
from snakepacker.errors import BuildError, UsageError
from snakepacker.family.images import Family, ImageKind
from snakepacker.images.build import Built, build_images
from snakepacker.platforms import Platform
from snakepacker.ship import signing
from snakepacker.ship.signing import Predicate

Progress = Callable[[str], None]
MACHINE_PROBE = "import platform; print(platform.machine())"


@dataclass(frozen=True)
class Shipment:
    """One tag to publish: each platform's local image, and the names its list gets."""

    tag: str
    images: Mapping[Platform, str]  # platform -> local ref or image id, in list order
    names: tuple[str, ...]  # the list is made under the first, then copied to the others
    python: bool  # a target image: smoke-tested by running its python3
    immutable: bool = False  # a patch tag: never moved once it exists


@dataclass(frozen=True)
class Shipped:
    tag: str
    platforms: tuple[str, ...]
    digest: str  # the list's digest ("" when a kept patch tag stood in the way)
    moved: tuple[str, ...]  # the names that now name another list than before
    kept: bool = False  # an immutable tag already named other images


class Registry(Protocol):
    """What publishing needs of the registries; the real one is docker's client and
    skopeo, tests give a recording one."""

    def push(self, ref: str) -> str: ...

    def remote_digest(self, ref: str) -> str | None: ...

    def entries(self, ref: str) -> dict[str, str] | None:
        """platform -> digest of the list REF names; None when there is none."""
        ...

    def make_list(self, ref: str, members: Sequence[str]) -> str: ...

    def copy_all(self, source: str, destination: str) -> None: ...

    def sign(self, ref: str, key: Path) -> None: ...

    def attest(self, ref: str, predicate: Predicate, key: Path) -> None: ...

    def copy_signatures(self, source: str, destination: str, digests: Sequence[str]) -> None:
        """Copy the signatures and attestations of DIGESTS from repository SOURCE to
        repository DESTINATION."""
        ...


@dataclass(frozen=True)
class Publish:
    """What goes up with each platform's image: a cosign signature with KEY, and one
    attestation per predicate PREDICATES_OF gives for the local image (its SBOM and its
    provenance). Lists are signed with KEY too."""

    key: Path
    predicates_of: Callable[[str], Sequence[Predicate]]


def image_predicates(engine: Engine, sbom_format: str = "cyclonedx",
                     ) -> Callable[[str], list[Predicate]]:
    """What is attested about a local image: its SBOM (in SBOM_FORMAT) and its SLSA
    provenance, both made from one reading of the image's records."""
    from snakepacker.supply.provenance import provenance_json
    from snakepacker.supply.sbom import check_format, document, read_image

    fmt = check_format(sbom_format)

    def predicates_of(image: str) -> list[Predicate]:
        subject, inventory = read_image(engine, image)
        return [Predicate(signing.SBOM_TYPES[fmt], document(subject, inventory, fmt).encode()),
                Predicate(signing.PROVENANCE, provenance_json(subject, inventory).encode())]

    return predicates_of


def signed_publish(engine: Engine, key: Path, sbom_format: str = "cyclonedx") -> Publish:
    """Publishing with KEY: each image signed, its SBOM and provenance attested."""
    return Publish(key, image_predicates(engine, sbom_format))


@dataclass(frozen=True)
class EngineRegistry:
    """Registries as the engine's client (its login store) and skopeo reach them."""

    engine: Engine

    def push(self, ref: str) -> str:
        return self.engine.push(ref)

    def remote_digest(self, ref: str) -> str | None:
        return skopeo.remote_digest(ref)

    def entries(self, ref: str) -> dict[str, str] | None:
        if skopeo.remote_digest(ref) is None:
            return None
        try:
            return {e.platform: e.digest for e in skopeo.list_entries(ref)}
        except Exception:  # a single image under the tag: not the list asked for
            return {}

    def make_list(self, ref: str, members: Sequence[str]) -> str:
        return self.engine.make_list(ref, members)

    def copy_all(self, source: str, destination: str) -> None:
        skopeo.copy_all(source, destination)

    def sign(self, ref: str, key: Path) -> None:
        signing.sign(ref, key)

    def attest(self, ref: str, predicate: Predicate, key: Path) -> None:
        signing.attest(ref, predicate, key)

    def copy_signatures(self, source: str, destination: str, digests: Sequence[str]) -> None:
        signing.copy_signatures(source, destination, digests)


def published_names(names: tuple[str, str, str], hub: str | None) -> tuple[str, ...]:
    """A family image's three names as pushed, the list's home first: the short one on
    HUB when one is given (default: the engine's default registry, which the short
    name means by itself). Names that coincide are one name."""
    long_, one_repo, short = names
    return tuple(dict.fromkeys((one_repo, long_, f"{hub}/{short}" if hub else short)))


def smoke_test(engine: Engine, shipments: Sequence[Shipment], progress: Progress) -> None:
    """Run every platform's image once: python3 reports the platform's machine name for
    a target image; anything else must run `sh -c true`. BuildError on the first that
    does not, before anything is pushed. (A patch tag's images are its tag's: once.)"""
    tested: set[tuple[Platform, str]] = set()
    for shipment in shipments:
        for platform, image in shipment.images.items():
            if (platform, image) in tested:
                continue
            tested.add((platform, image))
            progress(f"smoke test {shipment.tag} on {platform.name}")
            args = ["--rm", "--platform", platform.name]
            if shipment.python:
                proc = engine.run([*args, "--entrypoint", "python3", image, "-c",
                                   MACHINE_PROBE], check=False)
                ok = proc.returncode == 0 and proc.stdout.strip() == platform.machine
            else:
                proc = engine.run([*args, "--entrypoint", "sh", image, "-c", "true"],
                                  check=False)
                ok = proc.returncode == 0
            if not ok:
                said = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                raise BuildError(f"smoke test of {shipment.tag} on {platform.name} failed "
                                 f"(exit code {proc.returncode}): {said[0]}")


def push_platforms(engine: Engine, registry: Registry, shipments: Sequence[Shipment],
                   progress: Progress, publish: Publish | None = None,
                   ) -> dict[tuple[str, Platform], str]:
    """Push each platform's image of each shipment under TAG-SUFFIX in the list's
    repository, signed and attested (PUBLISH); return the digests. The first failure
    raises: no list is made then."""
    pushed: dict[tuple[str, Platform], str] = {}
    published: set[str] = set()  # repo@digest already signed and attested
    for shipment in shipments:
        home, tag = refs.repository(shipment.names[0]), refs.tag_of(shipment.names[0])
        for platform, image in shipment.images.items():
            ref = f"{home}:{refs.platform_tag(tag, platform)}"
            ours = not engine.image_exists(ref)  # a local tag of the user's stays
            engine.tag(image, [ref])
            progress(f"pushing {shipment.tag} for {platform.name}")
            try:
                pushed[shipment.tag, platform] = registry.push(ref)
            finally:
                if ours:
                    engine.remove([ref])  # only the name: the image keeps its others
            digest = pushed[shipment.tag, platform]
            if publish is not None and f"{home}@{digest}" not in published:
                published.add(f"{home}@{digest}")
                _publish_beside(registry, home, digest, image, publish, progress)
    return pushed


def _publish_beside(registry: Registry, home: str, digest: str, image: str,
                    publish: Publish, progress: Progress) -> None:
    """Sign the image pushed as HOME@DIGEST and attest what PUBLISH says of it."""
    ref = f"{home}@{digest}"
    registry.sign(ref, publish.key)
    predicates = publish.predicates_of(image)
    for predicate in predicates:
        registry.attest(ref, predicate, publish.key)
    progress(f"  signed {digest[:19]}, attested its "
             f"{', '.join(p.kind for p in predicates) or 'nothing'}")


def write_lists(registry: Registry, shipment: Shipment, digests: Mapping[Platform, str],
                progress: Progress, key: Path | None = None) -> Shipped:
    """Make SHIPMENT's list under its first name and copy it to the others; names already
    at that digest are left alone, and an immutable tag already there is kept. With KEY
    the list is signed once written, and each other name gets the signatures and
    attestations of the list and its members before it is moved."""
    home = shipment.names[0]
    platforms = tuple(p.name for p in shipment.images)
    wanted = {p.name: digests[p] for p in shipment.images}
    existing = registry.entries(home)
    if shipment.immutable and existing is not None and existing != wanted:
        progress(f"kept {home}: the immutable tag already names other images")
        return Shipped(shipment.tag, platforms, "", (), kept=True)
    before = registry.remote_digest(home)
    if existing == wanted and before is not None:
        digest, moved = before, []  # the very list is there: nothing to write
    else:
        members = [refs.by_digest(home, digests[p]) for p in shipment.images]
        digest = registry.make_list(home, members)
        moved = [home] if before != digest else []
    if key is not None:
        registry.sign(refs.by_digest(home, digest), key)
        progress(f"  signed the list {digest[:19]}")
    for name in shipment.names[1:]:
        if key is not None and refs.repository(name) != refs.repository(home):
            registry.copy_signatures(home, name, [digest, *wanted.values()])
        if registry.remote_digest(name) != digest:
            registry.copy_all(home, name)
            moved.append(name)
    progress(f"{shipment.tag}: {len(moved)} of {len(shipment.names)} names moved to "
             f"{digest[:19]}")
    return Shipped(shipment.tag, platforms, digest, tuple(moved))


def ship(engine: Engine, registry: Registry, shipments: Sequence[Shipment],
         progress: Progress, publish: Publish | None = None) -> list[Shipped]:
    """Smoke-test, push every platform's image, then write the lists, in that order."""
    smoke_test(engine, shipments, progress)
    pushed = push_platforms(engine, registry, shipments, progress, publish)
    return [
        write_lists(registry, shipment, {p: pushed[shipment.tag, p] for p in shipment.images},
                    progress, publish.key if publish else None)
        for shipment in shipments
    ]


def summary(shipped: Sequence[Shipped]) -> list[str]:
    """The table `images push` prints: tag, platforms, digest, what moved."""
    rows = [("TAG", "PLATFORMS", "DIGEST", "MOVED")]
    for s in shipped:
        state = "kept (immutable)" if s.kept else (
            f"{len(s.moved)} names" if s.moved else "unchanged")
        rows.append((s.tag, ",".join(s.platforms), s.digest or "-", state))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def push_family(engine: Engine, registry: Registry, families: Mapping[Platform, Family],
                names: Sequence[str], *, hub: str | None, progress: Progress,
                verbose: bool = False, publish: Publish | None = None) -> list[Shipped]:
    """`images push`: build NAMES (and what they stand on) for every platform, then
    smoke-test, push and write the lists; a failed build raises before any push."""
    built: dict[Platform, list[Built]] = {}
    for platform, family in families.items():
        progress(f"building for {platform.name}")
        built[platform] = build_images(engine, family, names, progress=progress,
                                       verbose=verbose)
    return ship(engine, registry, family_shipments(families, built, names, hub, progress),
                progress, publish)


def family_shipments(families: Mapping[Platform, Family],
                     built: Mapping[Platform, Sequence[Built]], names: Sequence[str],
                     hub: str | None, progress: Progress) -> list[Shipment]:
    """The shipments of family images NAMES built for each platform: each tag, and each
    target's patch tag when every platform's interpreter reports the same version."""
    shipments: list[Shipment] = []
    first = next(iter(families.values()))
    for name in names:
        image = first.get(name)
        by_platform = {p: next(b for b in built[p] if b.image.name == image.name)
                       for p in families}
        images = {p: b.image_id for p, b in by_platform.items()}
        python = image.python is not None
        tag = first.tag(image.name)
        shipments.append(Shipment(tag, images, published_names(first.names_of(tag), hub),
                                  python))
        versions = {b.version for b in by_platform.values()}
        if image.kind is ImageKind.TARGET and len(versions) == 1 and None not in versions:
            patch = first.patch_tag(image.name, versions.pop() or "")
            shipments.append(Shipment(patch, images,
                                      published_names(first.names_of(patch), hub),
                                      python, immutable=True))
        elif image.kind is ImageKind.TARGET:
            progress(f"no patch tag for {tag}: the platforms' interpreters differ "
                     f"({', '.join(sorted(map(str, versions)))})")
    return shipments


def pack_shipments(tags: Sequence[str], images: Mapping[Platform, str]) -> list[Shipment]:
    """One shipment per -t tag of a packed application (each names its registry)."""
    for tag in tags:
        if not refs.registry_host(tag):
            raise UsageError(f"--push: -t {tag} names no registry (REGISTRY/NAME:TAG)")
    return [Shipment(tag, images, (tag,), python=True) for tag in tags]
