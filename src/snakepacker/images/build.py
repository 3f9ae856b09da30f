"""Build family images on the engine, in dependency order, tagging only what succeeded.

A family is built for one platform at a time, from that platform's own root: every
FROM names the platform's local parent, so no layer of another platform ends up under
its tags. A target image is also tagged with its immutable patch tag (3.12.3), the
version its built interpreter reports (under emulation on a foreign platform).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from snakepacker import __version__, vcs
from snakepacker.engine import Engine
from snakepacker.engine.secrets import network_secrets
from snakepacker.engine.skopeo import platform_digest
from snakepacker.errors import SnakepackerError
from snakepacker.family.images import Family, Image, ImageKind
from snakepacker.family.labels import CREATED_ARG, PARENT_ARG, REVISION_ARG
from snakepacker.family.options import DEFAULT_NAMESPACE
from snakepacker.images.bootstrap import root_ref
from snakepacker.images.render import Rendered, render_image
from snakepacker.images.sources import fetch
from snakepacker.refs import by_digest, registry_host
from snakepacker.tempdirs import temporary_directory

Progress = Callable[[str], None]

# snakepacker's own checkout, when it runs from one, and what family images are made of
# in it (git pathspecs). Their labels name the last commit that touched these, not
# HEAD: a child's cache is keyed by its parent's image id, labels included, so a label
# that changed with every commit would rebuild the whole family (CPython included) for
# a README edit.
_CHECKOUT = Path(__file__).resolve().parents[3]
FAMILY_INPUTS = (*(f"src/snakepacker/{part}" for part in ("family", "data", "templates", "tools")),
                 ":(exclude)src/snakepacker/templates/pack.j2")


@dataclass(frozen=True)
class Built:
    image: Image
    image_id: str
    names: tuple[str, ...]
    size: int
    seconds: float
    version: str | None = None  # the interpreter's X.Y.Z, for a target image
    patch_names: tuple[str, ...] = ()  # the local names of its patch tag


def resolve_root(engine: Engine, family: Family, progress: Progress) -> str:
    """The image `base` starts from: forced, bootstrapped, local official, or pulled."""
    distro = family.distro
    forced = family.options.root_image
    if forced:
        if family.foreign and registry_host(forced):
            # A single image from a registry is taken whatever its platform: pin the
            # digest of this platform's one, checked.
            return by_digest(forced, platform_digest(forced, family.platform))
        if engine.image_exists(forced) or engine.pull(forced):
            return forced
        raise SnakepackerError(f"root image {forced} is neither present nor pullable")
    # A root bootstrapped under this family's namespace, else under the default one.
    for namespace in dict.fromkeys((family.options.namespace, DEFAULT_NAMESPACE)):
        bootstrapped = root_ref(distro, namespace, family.platform)
        if engine.image_exists(bootstrapped):
            return bootstrapped
    if family.foreign:  # the official name would be looked up for the wrong platform
        raise SnakepackerError(
            f"no {family.platform.name} root for {distro.name}; run `snakepacker bootstrap "
            f"{distro.name} --platform {family.platform.name}` first"
        )
    official = distro.official_image
    if engine.image_exists(official):
        return official
    progress(f"pulling {official}")
    if engine.pull(official):
        return official
    raise SnakepackerError(
        f"no root image for {distro.name}: {official} cannot be pulled here and none was "
        f"bootstrapped; run `snakepacker bootstrap {distro.name}` first"
    )


VERSION_PROBE = "import platform; print(platform.python_version())"


def python_version(engine: Engine, image_id: str, family: Family) -> str:
    """The X.Y.Z the interpreter of a built target image reports."""
    where = ["--platform", family.platform.name] if family.foreign else []
    proc = engine.run(["--rm", *where, "--entrypoint", "python3", image_id, "-c",
                       VERSION_PROBE], check=False)
    version = proc.stdout.strip()
    if proc.returncode != 0 or not version[:1].isdigit():
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SnakepackerError(f"the built interpreter did not say its version: {detail[0]}")
    return version


def write_image_context(rendered: Rendered, tarballs: dict[str, Path], folder: Path) -> None:
    (folder / "Dockerfile").write_text(rendered.dockerfile)
    for rel, source in rendered.files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o755)
    for rel in rendered.tarballs:
        target = folder / rel
        try:
            os.link(tarballs[rel], target)
        except OSError:
            shutil.copyfile(tarballs[rel], target)


def label_args(parent_id: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The build arguments of a family image's last LABEL: when and from which commit
    of snakepacker's family inputs (its version outside a checkout), and its parent."""
    commit = vcs.last_commit(_CHECKOUT, FAMILY_INPUTS)
    return {CREATED_ARG: vcs.rfc3339(vcs.source_date_epoch(commit, env)),
            REVISION_ARG: commit.sha if commit else __version__,
            PARENT_ARG: parent_id}


def _image_build_args(engine: Engine, family: Family, image: Image, root: str,
                      ids: dict[str, str]) -> dict[str, str]:
    """ROOT_IMAGE for base; for every image, the values of its last LABEL."""
    parent = family.ref(image.parent) if image.parent else root
    parent_id = (ids.get(image.parent) if image.parent else None) or engine.image_id(parent)
    args = label_args(parent_id or "unknown")
    if image.kind is ImageKind.BASE:
        args["ROOT_IMAGE"] = root
    return args


def build_order(family: Family, names: Sequence[str]) -> list[Image]:
    """NAMES and what they stand on, build images (`all`) as early as their own parents
    allow. A source-built CPython's stage is shared by `all` and its X.Y image: built
    with `all`, the engine compiles it while it runs `all`'s first steps, which do not
    need it, beside it; the X.Y image then finds it in the cache."""
    builders = [image.name for image in family.closure(names) if image.kind is ImageKind.BUILD]
    return family.closure([*builders, *names])


def build_images(
    engine: Engine,
    family: Family,
    names: Sequence[str],
    *,
    progress: Progress,
    verbose: bool = False,
    no_cache: bool = False,
) -> list[Built]:
    order = build_order(family, names)
    rendered = [render_image(family, image) for image in order]
    options = family.options

    # Every tarball is fetched and verified before the first build starts, so a bad
    # download fails the command with nothing built or tagged.
    tarballs: dict[str, Path] = {}
    for item in rendered:
        for rel, minor in item.tarballs.items():
            if rel not in tarballs:
                release = options.python(minor).release
                assert release is not None
                tarballs[rel] = fetch(
                    release, mirror=options.cpython_mirror,
                    local=options.tarball(minor), progress=progress,
                )

    root = resolve_root(engine, family, progress)  # every closure starts at base
    built: list[Built] = []
    ids: dict[str, str] = {}  # family name -> image id, of what this run built
    with network_secrets(options.network) as secrets:
        for number, item in enumerate(rendered, 1):
            image = item.image
            tag = family.tag(image.name)
            if family.foreign:
                tag += f" for {family.platform.name}"
            progress(f"[{number}/{len(rendered)}] building {tag}")
            started = time.monotonic()
            prefix = f"snakepacker-{family.tag(image.name)}-"
            with temporary_directory(prefix=prefix) as tmp:
                write_image_context(item, tarballs, Path(tmp))
                image_id = engine.build(
                    Path(tmp),
                    label=tag,
                    secrets=secrets,
                    build_args=_image_build_args(engine, family, image, root, ids),
                    progress=progress,
                    verbose=verbose,
                    no_cache=no_cache,
                    platform=family.platform.name if family.foreign else None,
                )
            version, patch_names = None, ()
            if image.kind is ImageKind.TARGET:
                version = python_version(engine, image_id, family)
                patch_names = family.local_names_of(family.patch_tag(image.name, version))
            names_ = family.local_names(image.name)
            engine.tag(image_id, names_ + patch_names)
            size = engine.image_size(image_id) or 0
            seconds = time.monotonic() - started
            progress(f"[{number}/{len(rendered)}] {tag}: {size / 1e6:.1f} MB in {seconds:.0f}s")
            built.append(Built(image, image_id, names_, size, seconds, version, patch_names))
            ids[image.name] = image_id
    return built
