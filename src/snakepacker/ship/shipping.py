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

Before the first list is written, every name of every tag is read. Patch tags (3.12.3)
are immutable, and a patch tag has several names, any of which may already exist: when
one of them lists other images, the tag is kept on all of them (none is written) and
the progress says what each name held. That is no error, since the moving tags (3.12)
still moved, and a rebuild of the same CPython release is normal; the next release gets
a tag of its own. A patch tag's name that already lists the same images stays as it
is; one that is missing gets the list (what an interrupted push left undone).

Writing the lists can still fail half-way (a registry that stops answering, a refused
copy). Then every name already moved is put back at the digest it had, copied from its
repository pinned at that digest; a tag that did not exist before cannot be removed on
every registry, so it stays. The one error line says what had moved, what was put back
and what was not.

With a signing key (Publish), each platform's image is signed and its SBOM and SLSA
provenance attested as it is pushed, before any list; each list is signed once it is
written, and its other names get the signatures and attestations of the list and its
members before they move to it, so every name verifies. Without a key nothing is
signed or attested.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from snakepacker import refs
from snakepacker.engine import Engine, skopeo
from snakepacker.errors import BuildError, SnakepackerError, UsageError
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
    held: tuple[tuple[str, str], ...] = ()  # then: its names at other images, and where


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


@dataclass(frozen=True)
class Planned:
    """One shipment's list as found before any list is written: what each of its names
    held then, and which of them already list exactly the images to ship."""

    shipment: Shipment
    digests: Mapping[Platform, str]  # platform -> the digest of its pushed image
    before: Mapping[str, str | None]  # name -> its digest then (None: no such tag)
    same: frozenset[str]  # names whose list names exactly these images
    held: tuple[tuple[str, str], ...] = ()  # an immutable tag's names at other images

    @property
    def kept(self) -> bool:
        return bool(self.held)


def _wanted(shipment: Shipment, digests: Mapping[Platform, str]) -> dict[str, str]:
    return {p.name: digests[p] for p in shipment.images}


def plan_lists(registry: Registry,
               shipments: Sequence[tuple[Shipment, Mapping[Platform, str]]],
               progress: Progress) -> list[Planned]:
    """Read what every name of every shipment holds, before any list is written.

    An immutable shipment is checked on every name: when any of them lists other
    images, the tag is kept on all of them (nothing is written for it), and the
    progress says what each name held."""
    plans = []
    for shipment, digests in shipments:
        wanted = _wanted(shipment, digests)
        before = {name: registry.remote_digest(name) for name in shipment.names}
        # A moving tag needs only its home's list; a patch tag, every name's.
        checked = shipment.names if shipment.immutable else shipment.names[:1]
        entries = {name: registry.entries(name) if before[name] else None for name in checked}
        same = frozenset(n for n, e in entries.items() if e == wanted)
        held = tuple((n, before[n] or "") for n, e in entries.items()
                     if shipment.immutable and e is not None and e != wanted)
        plan = Planned(shipment, digests, before, same, held)
        if plan.kept:
            _say_kept(plan, progress)
        plans.append(plan)
    return plans


def _say_kept(plan: Planned, progress: Progress) -> None:
    names, held = plan.shipment.names, dict(plan.held)
    progress(f"kept {plan.shipment.tag} on all {len(names)} names: a patch tag never "
             f"moves, and {len(held)} of them already list other images")
    for name in names:
        state = (f"lists other images ({held[name][:19]})" if name in held
                 else "not there" if plan.before[name] is None else "lists these images")
        progress(f"  {name}: {state}")


@dataclass(frozen=True)
class _Journal:
    """What writing the lists has done so far: each name moved, with its digest before
    (None: the tag is new), and names a failed write left unreadable."""

    moved: list[tuple[str, str | None]] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)


def write_planned(registry: Registry, plans: Sequence[Planned], progress: Progress,
                  key: Path | None = None) -> list[Shipped]:
    """Write the planned lists in order, each signed with KEY when one is given. When a
    write fails, every name already moved is put back at the list it had (its
    repository pinned at that digest); the error then says what moved, what was put
    back and what could not be."""
    journal = _Journal()
    try:
        return [_write(registry, plan, journal, progress, key) for plan in plans]
    except Exception as exc:
        line = f"{exc}; {_undo(registry, journal, progress)}"
        if isinstance(exc, SnakepackerError):
            raise type(exc)(line) from None
        progress(line)
        raise


def _write(registry: Registry, plan: Planned, journal: _Journal, progress: Progress,
           key: Path | None) -> Shipped:
    shipment = plan.shipment
    platforms = tuple(p.name for p in shipment.images)
    if plan.kept:
        return Shipped(shipment.tag, platforms, "", (), kept=True, held=plan.held)
    home = shipment.names[0]
    previous = plan.before[home]
    if home in plan.same and previous is not None:
        digest = previous  # the very list is there: nothing to write
    else:
        members = [refs.by_digest(home, plan.digests[p]) for p in shipment.images]
        digest = _move(registry, journal, home, previous,
                       partial(registry.make_list, home, members))
    if key is not None:
        registry.sign(refs.by_digest(home, digest), key)
        progress(f"  signed the list {digest[:19]}")
    signed = [digest, *_wanted(shipment, plan.digests).values()]
    for name in shipment.names[1:]:
        before = plan.before[name]
        if key is not None and refs.repository(name) != refs.repository(home):
            # Signatures live beside what they sign: a name in another repository
            # needs them there before it names the list.
            registry.copy_signatures(home, name, signed)
        # An immutable name already there lists these images (else it was kept): it stays.
        if before == digest or (shipment.immutable and before is not None):
            continue
        _move(registry, journal, name, before, partial(_copied, registry, home, name, digest))
    mine = tuple(name for name, _ in journal.moved if name in shipment.names)
    progress(f"{shipment.tag}: {len(mine)} of {len(shipment.names)} names moved to "
             f"{digest[:19]}")
    return Shipped(shipment.tag, platforms, digest, mine)


def _copied(registry: Registry, source: str, name: str, digest: str) -> str:
    """Copy the list SOURCE names (at DIGEST) to NAME, byte for byte: NAME's digest."""
    registry.copy_all(source, name)
    return digest


def _move(registry: Registry, journal: _Journal, name: str, before: str | None,
          write: Callable[[], str]) -> str:
    """Run WRITE, which points NAME at a list and returns its digest, and note NAME in
    the journal when it moved: also when WRITE failed after the registry took the list."""
    try:
        digest = write()
    except Exception:
        try:
            now = registry.remote_digest(name)
        except Exception:
            journal.unread.append(name)
        else:
            if now != before:
                journal.moved.append((name, before))
        raise
    if digest != before:
        journal.moved.append((name, before))
    return digest


def _undo(registry: Registry, journal: _Journal, progress: Progress) -> str:
    """Put the names the journal says moved back where they were, last first; return
    what happened, as a clause of the error line."""
    restored, failed, created = [], [], []
    for name, before in reversed(journal.moved):
        if before is None:
            created.append(name)  # a new tag: not every registry lets a tag be deleted
            continue
        progress(f"putting {name} back at {before[:19]}")
        try:
            registry.copy_all(refs.by_digest(name, before), name)
            back = registry.remote_digest(name) == before
        except Exception:
            back = False
        (restored if back else failed).append(name if back else f"{name} (was {before})")
    said = [f"{len(journal.moved)} name(s) had moved" if journal.moved
            else "no name had moved"]
    if restored:
        said.append(f"put back: {', '.join(reversed(restored))}")
    if failed:
        said.append(f"NOT put back: {', '.join(reversed(failed))}")
    if created:
        said.append(f"new, left in place: {', '.join(reversed(created))}")
    if journal.unread:
        said.append(f"could not be read after the failure: {', '.join(journal.unread)}")
    return "; ".join(said)


def write_all_lists(registry: Registry,
                    shipments: Sequence[tuple[Shipment, Mapping[Platform, str]]],
                    progress: Progress, key: Path | None = None) -> list[Shipped]:
    """Check every name of every shipment, then write the lists, signed with KEY (see
    plan_lists and write_planned)."""
    return write_planned(registry, plan_lists(registry, shipments, progress), progress,
                         key)


def write_lists(registry: Registry, shipment: Shipment, digests: Mapping[Platform, str],
                progress: Progress, key: Path | None = None) -> Shipped:
    """Make SHIPMENT's list under its first name and copy it to the others; names already
    at that digest are left alone, and an immutable tag already there is kept. With KEY
    the list is signed once written, and each other name gets the signatures and
    attestations of the list and its members before it is moved."""
    return write_all_lists(registry, [(shipment, digests)], progress, key)[0]


def ship(engine: Engine, registry: Registry, shipments: Sequence[Shipment],
         progress: Progress, publish: Publish | None = None) -> list[Shipped]:
    """Smoke-test, push every platform's image, check every name, then write the lists,
    in that order."""
    smoke_test(engine, shipments, progress)
    pushed = push_platforms(engine, registry, shipments, progress, publish)
    return write_all_lists(
        registry, [(s, {p: pushed[s.tag, p] for p in s.images}) for s in shipments], progress,
        publish.key if publish else None)


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
