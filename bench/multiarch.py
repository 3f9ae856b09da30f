"""What building for another platform under qemu costs here, against the native platform.

    .venv/bin/python bench/multiarch.py [--distro bookworm] [--platforms linux/amd64,linux/arm64]
                                        [--reuse-roots] [--keep]

For each platform: bootstrap the distro's root (mmdebstrap --arch, its packages'
scripts running under qemu for a foreign one), then build the family's `base` on it
with no cache (apt, locale generation and the rest run emulated too). Prints one table:
seconds for each, base's size, and each time over the native one. Images go under
the namespace ``sptest-bench`` and are removed at the end unless --keep is given.
Emulated builds are slow; expect minutes per foreign platform.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from snakepacker.bootstrap import bootstrap, root_ref
from snakepacker.build import write_context
from snakepacker.engine import Engine
from snakepacker.family.distros import get_distro
from snakepacker.family.images import Family
from snakepacker.options import FamilyOptions
from snakepacker.platforms import Platform, can_run, native_platform, parse_platforms
from snakepacker.render import render

NAMESPACE = "sptest-bench"


def build_base(engine: Engine, family: Family, root: str, platform: Platform, tag: str) -> float:
    """Build `base` for PLATFORM on ROOT with no cache; return the seconds it took."""
    rendered = render(family, family.get("base"))
    with tempfile.TemporaryDirectory(prefix="snakepacker-bench-") as tmp:
        write_context(rendered, {}, Path(tmp))
        started = time.monotonic()
        proc = subprocess.run(
            [engine.client, "build", "--quiet", "--no-cache", "--platform", platform.name,
             "--build-arg", f"ROOT_IMAGE={root}", "--tag", tag, tmp],
            env=engine.env, capture_output=True, text=True,
        )
        seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"building base for {platform.name} failed:\n{proc.stderr[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distro", default="bookworm")
    parser.add_argument("--platforms", default=f"{native_platform().name},linux/arm64")
    parser.add_argument("--reuse-roots", action="store_true",
                        help="skip bootstrapping where the bench's root already exists")
    parser.add_argument("--keep", action="store_true", help="keep the images made")
    args = parser.parse_args()
    distro = get_distro(args.distro)
    platforms = parse_platforms(args.platforms)
    engine = Engine.find()
    family = Family(FamilyOptions(distro=distro, minors=(distro.system_python,)))
    native = native_platform()

    rows: dict[Platform, tuple[float | None, float, float]] = {}
    made: list[str] = []
    try:
        for platform in platforms:
            ok, why = can_run(platform)
            if not ok:
                print(f"skipping {platform.name}: {why}", file=sys.stderr)
                continue
            root = root_ref(distro, NAMESPACE, platform)
            boot: float | None = None
            if not (args.reuse_roots and engine.image_exists(root)):
                started = time.monotonic()
                bootstrap(distro, engine, NAMESPACE, platform=platform,
                          progress=lambda m: print(f"  {m}", file=sys.stderr))
                boot = time.monotonic() - started
            made.append(root)
            tag = f"{NAMESPACE}/python:base-{distro.name}-{platform.suffix}"
            print(f"building base for {platform.name}", file=sys.stderr)
            build = build_base(engine, family, root, platform, tag)
            made.append(tag)
            rows[platform] = (boot, build, (engine.image_size(tag) or 0) / 1e6)
    finally:
        if not args.keep:
            engine.remove(made)

    def ratio(value: float | None, base: float | None) -> str:
        return f"{value / base:6.1f}x" if value and base else f"{'-':>7}"

    reference = rows.get(native)
    print(f"{distro.name}, no cache; times over {native.name}'s")
    print(f"{'platform':<14}{'bootstrap s':>12}{'ratio':>8}{'base build s':>14}{'ratio':>8}"
          f"{'base MB':>9}")
    for platform, (boot, build, size) in rows.items():
        shown = f"{boot:12.0f}" if boot is not None else f"{'(reused)':>12}"
        print(f"{platform.name:<14}{shown}{ratio(boot, reference and reference[0]):>8}"
              f"{build:14.0f}{ratio(build, reference and reference[1]):>8}{size:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
