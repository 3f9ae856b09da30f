"""What building for another platform under qemu costs here, against the native platform.

    .venv/bin/python bench/multiarch.py [--distro bookworm]
        [--platforms linux/amd64,linux/arm64,linux/arm/v7] [--images 3.11]
        [--namespace sptest-bench] [--reuse-roots] [--keep] [--without-security-pocket]

For each platform: bootstrap the distro's root (mmdebstrap --arch, its packages'
scripts running under qemu for a foreign one), then build the family's images
(default: `base` and the distro's own minor, by the distro route) on it with no cache:
apt, locale generation and the rest run emulated too. The images are built the way
`images build --platform` builds them (snakepacker.build), so each foreign one is
checked: its interpreter must answer under emulation. Prints one table: seconds for
each step, each image's size, and each time over the native platform's. Images go under
--namespace and are removed at the end unless --keep is given. Emulated builds are
slow; expect minutes per foreign platform.
"""

from __future__ import annotations

import argparse
import sys
import time

from snakepacker.engine import Engine, find_engine
from snakepacker.family.distros import Distro, get_distro
from snakepacker.family.images import Family
from snakepacker.images import bootstrap as boot
from snakepacker.images.bootstrap import bootstrap, root_ref
from snakepacker.images.build import build_images
from snakepacker.options import FamilyOptions
from snakepacker.platforms import Platform, can_run, native_platform, parse_platforms

NAMESPACE = "sptest-bench"


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr)


def measure(engine: Engine, family: Family, images: list[str], namespace: str,
            reuse_root: bool, made: list[str]) -> dict[str, tuple[float | None, float]]:
    """Bootstrap FAMILY's platform's root and build IMAGES on it, no cache: step ->
    (seconds or None when reused, MB)."""
    platform = family.platform
    root = root_ref(family.distro, namespace, platform)
    rows: dict[str, tuple[float | None, float]] = {}
    boot: float | None = None
    if not (reuse_root and engine.image_exists(root)):
        started = time.monotonic()
        bootstrap(family.distro, engine, namespace, platform=platform, progress=log)
        boot = time.monotonic() - started
    made.append(root)
    rows["root"] = (boot, (engine.image_size(root) or 0) / 1e6)
    print(f"building {', '.join(images)} for {platform.name}", file=sys.stderr)
    for built in build_images(engine, family, images, progress=log, no_cache=True):
        made.extend(built.names + built.patch_names)
        rows[built.image.name] = (built.seconds, built.size / 1e6)
    return rows


def leave_out_security_pocket() -> None:
    """Make bootstrap list the release and updates pockets only. A bench-only escape
    for an archive whose security index does not match its Release file (apt then
    refuses it, rightly); the product has no such switch."""
    full = boot.sources

    def without(distro: Distro, mirror: str, arch: str = "amd64") -> list[str]:
        return full(distro, mirror, arch)[:2]

    boot.sources = without


def table(rows: dict[Platform, dict[str, tuple[float | None, float]]], native: Platform,
          distro: str) -> list[str]:
    """One line per platform: seconds (and ratio over NATIVE's) and MB of each step."""
    steps = list(dict.fromkeys(step for by_step in rows.values() for step in by_step))
    reference = rows.get(native, {})
    head = f"{'platform':<14}" + "".join(
        f"{step + ' s':>12}{'ratio':>7}{step + ' MB':>11}" for step in steps)
    lines = [f"{distro}, no cache; ratio: time over {native.name}'s", head]
    for platform, by_step in rows.items():
        line = f"{platform.name:<14}"
        for step in steps:
            seconds, size = by_step.get(step, (None, 0.0))
            base = reference.get(step, (None, 0.0))[0]
            shown = f"{seconds:12.0f}" if seconds is not None else f"{'(reused)':>12}"
            ratio = f"{seconds / base:6.1f}x" if seconds and base else f"{'-':>7}"
            line += f"{shown}{ratio}{size:11.1f}"
        lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distro", default="bookworm")
    parser.add_argument("--platforms", default=f"{native_platform().name},linux/arm64")
    parser.add_argument("--images", default="",
                        help="comma-separated images to build (default: base and the "
                             "distro's own minor)")
    parser.add_argument("--namespace", default=NAMESPACE,
                        help="where the roots and images go (a shared engine: your own)")
    parser.add_argument("--reuse-roots", action="store_true",
                        help="skip bootstrapping where the bench's root already exists")
    parser.add_argument("--keep", action="store_true", help="keep the images made")
    parser.add_argument("--without-security-pocket", action="store_true",
                        help="bootstrap from the release and updates pockets only, for an "
                             "archive whose security index is broken (the table says so)")
    args = parser.parse_args()
    if args.without_security_pocket:
        leave_out_security_pocket()
    distro = get_distro(args.distro)
    images = [i for i in args.images.split(",") if i] or ["base", distro.system_python]
    engine = find_engine()
    options = FamilyOptions(distro=distro, minors=(distro.system_python,),
                            namespace=args.namespace)
    rows: dict[Platform, dict[str, tuple[float | None, float]]] = {}
    made: list[str] = []
    try:
        for platform in parse_platforms(args.platforms):
            ok, why = can_run(platform)
            if not ok:
                print(f"skipping {platform.name}: {why}", file=sys.stderr)
                continue
            family = Family(options, platform=platform)
            rows[platform] = measure(engine, family, images, args.namespace,
                                     args.reuse_roots, made)
    finally:
        if not args.keep:
            engine.remove(dict.fromkeys(made))
    print("\n".join(table(rows, native_platform(), distro.name)))
    if args.without_security_pocket:
        print("(roots bootstrapped without the security pocket)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
