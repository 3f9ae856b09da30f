"""The yardstick pack is measured against: uv's multistage Docker recipe on a slim Python.

Importable by the other benches (``from uvrecipe import build_slim, build_recipe``), and
runnable on its own to build the slim image and one recipe app:

    .venv/bin/python bench/uvrecipe.py [--minor 3.12] [--release-grade] [PROJECT_DIR TAG]

No image can be pulled here, so both halves are made locally:

- the slim image follows the approach of the official ``python:X.Y-slim-bookworm``
  image: Debian bookworm's minimal root (the one ``snakepacker bootstrap bookworm``
  made), CA certificates, netbase and tzdata, then CPython compiled from its release
  tarball into /usr/local with the -dev packages installed, built against and purged in
  the same step, keeping only the libraries the built files link to; test suites,
  static library and every .pyc removed; ``python``/``pip`` links. Two departures,
  both for our root rather than the recipe: every apt step ends with ``apt-get clean``
  (Debian's published image does that with an apt hook our bootstrapped root lacks),
  and the purge treats Suggests as unimportant too (apt and tar suggest dpkg-dev,
  which would keep the whole compiler). The tarball is one
  of those the package archives carry (sha256-checked by snakepacker's own fetch).
  The official build uses PGO and LTO; that costs ~10 minutes on two shared cores, so it
  is off unless ``release_grade`` (it changes the interpreter's speed, not the layout).
- uv comes from PyPI, installed with pip into an image of its own that stands in for
  the uv project's distroless image the guide copies the binaries from;
- the app image is the uv guide's multistage, non-editable recipe: a builder on the
  slim image with uv copied in, ``UV_COMPILE_BYTECODE=1``, the dependencies synced from
  uv.lock in one cached step (cache mount, lock and pyproject bind-mounted), then the
  project copied and synced non-editable; the runtime stage is the slim image with a
  system user, the venv copied in (owned by it) and ``USER`` set.

Extra CA certificates (SNAKEPACKER_CA_CERTS, first path) reach the downloading steps as
a BuildKit secret, joined with the image's own bundle in /tmp and removed in the same
step: never in a layer. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from snakepacker.engine import Engine, find_engine
from snakepacker.family.cpython import Release, find_release
from snakepacker.family.distros import get_distro
from snakepacker.family.options import DEFAULT_NAMESPACE
from snakepacker.images.bootstrap import root_ref
from snakepacker.images.sources import fetch

PREFIX = "snakepacker-bench/uvrecipe"  # every tag this module makes starts so
# The newest tarball of each minor that the package archives answered with.
SLIM_RELEASES = {"3.10": "3.10.12", "3.11": "3.11.2", "3.12": "3.12.3", "3.13": "3.13.5",
                 "3.14": "3.14.4"}
# What the official slim recipe installs to build CPython (bookworm's names), less the
# download tools: the tarball arrives through a bind mount, already verified.
SLIM_BUILD_PACKAGES = (
    "dpkg-dev", "gcc", "libbluetooth-dev", "libbz2-dev", "libc6-dev", "libdb-dev",
    "libexpat1-dev", "libffi-dev", "libgdbm-dev", "liblzma-dev", "libncursesw5-dev",
    "libreadline-dev", "libsqlite3-dev", "libssl-dev", "make", "tk-dev", "uuid-dev",
    "xz-utils", "zlib1g-dev",
)

# The extra CA bundle, joined with the image's own, for the one step that downloads.
_CA = (
    "--mount=type=secret,id=ca-certs,target=/run/secrets/ca-certs \\\n"
    "    set -eu; \\\n"
    "    if [ -s /run/secrets/ca-certs ]; then \\\n"
    "        cat /etc/ssl/certs/ca-certificates.crt /run/secrets/ca-certs > /tmp/ca.pem; \\\n"
    "        export SSL_CERT_FILE=/tmp/ca.pem PIP_CERT=/tmp/ca.pem; \\\n"
    "    fi; \\\n"
)

SLIM_DOCKERFILE = """\
FROM {root}
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8
# What Python's standard library reaches for at run time.
RUN set -eux; \\
    apt-get update; \\
    apt-get install -y --no-install-recommends ca-certificates netbase tzdata; \\
    rm -rf /var/lib/apt/lists/*; apt-get clean
ENV PYTHON_VERSION={version}
# Build deps in, CPython built and installed, build deps out again (everything the
# built files link against is marked manual first, so it stays), all in one layer.
RUN --mount=type=bind,source={tarball},target=/tmp/python.tar \\
    set -eux; \\
    kept="$(apt-mark showmanual)"; \\
    apt-get update; \\
    apt-get install -y --no-install-recommends {build_packages}; \\
    mkdir -p /usr/src/python; \\
    tar -xf /tmp/python.tar -C /usr/src/python --strip-components=1; \\
    cd /usr/src/python; \\
    arch="$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)"; \\
    ./configure --build="$arch" --enable-loadable-sqlite-extensions \\
        --enable-option-checking=fatal --enable-shared --with-system-expat \\
        --with-ensurepip{optimize}; \\
    make -j"$(nproc)" EXTRA_CFLAGS="$(dpkg-buildflags --get CFLAGS)" \\
        LDFLAGS="$(dpkg-buildflags --get LDFLAGS) -Wl,--strip-all"; \\
    rm python; \\
    make -j"$(nproc)" EXTRA_CFLAGS="$(dpkg-buildflags --get CFLAGS)" \\
        LDFLAGS="$(dpkg-buildflags --get LDFLAGS) -Wl,-rpath='\\$\\$ORIGIN/../lib' -Wl,--strip-all" \\
        python; \\
    make install; \\
    cd /; rm -rf /usr/src/python; \\
    find /usr/local -depth \\( \\( -type d -a \\( -name test -o -name tests -o -name idle_test \\) \\) \\
        -o \\( -type f -a \\( -name '*.pyc' -o -name '*.pyo' -o -name 'libpython*.a' \\) \\) \\) \\
        -exec rm -rf '{{}}' +; \\
    ldconfig; \\
    apt-mark auto '.*' > /dev/null; \\
    apt-mark manual $kept > /dev/null; \\
    find /usr/local -type f -executable -not -name '*tkinter*' -exec ldd '{{}}' ';' \\
        | awk '/=>/ {{ so = $(NF-1); if (index(so, "/usr/local/") == 1) next; \\
                      gsub("^/(usr/)?", "", so); printf "*%s\\n", so }}' \\
        | sort -u | xargs -r dpkg-query --search | cut -d: -f1 | sort -u \\
        | xargs -r apt-mark manual; \\
    apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false \\
        -o APT::AutoRemove::SuggestsImportant=false; \\
    rm -rf /var/lib/apt/lists/*; apt-get clean; \\
    export PYTHONDONTWRITEBYTECODE=1; \\
    python3 --version; pip3 --version
RUN set -eux; \\
    for name in idle3 pip3 pydoc3 python3 python3-config; do \\
        dst="$(echo "$name" | tr -d 3)"; [ -e "/usr/local/bin/$dst" ] || ln -sT "$name" "/usr/local/bin/$dst"; \\
    done
CMD ["python3"]
"""  # noqa: E501 (the recipe's long shell lines)

UV_DOCKERFILE = """\
FROM {slim}
RUN --mount=type=cache,target=/root/.cache/pip \\
    {ca}    PIP_ROOT_USER_ACTION=ignore pip install --disable-pip-version-check uv{pin}; \\
    rm -f /tmp/ca.pem
"""

# The uv guide's multistage, non-editable recipe, with the two images above.
RECIPE_DOCKERFILE = """\
FROM {slim} AS builder
COPY --from={uv} /usr/local/bin/uv /usr/local/bin/uvx /bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=0
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    {ca}    uv sync --locked --no-install-project --no-editable --no-dev; \\
    rm -f /tmp/ca.pem
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    {ca}    uv sync --locked --no-editable --no-dev; \\
    rm -f /tmp/ca.pem

FROM {slim}
RUN groupadd --system --gid 999 nonroot \\
    && useradd --system --gid 999 --uid 999 --create-home nonroot
COPY --from=builder --chown=nonroot:nonroot /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH"
USER nonroot
WORKDIR /app
CMD {cmd}
"""


@dataclass(frozen=True)
class Built:
    tag: str
    seconds: float  # wall time of `docker build`


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _engine(engine: Engine | None) -> Engine:
    return engine or find_engine("docker")


def ca_bundle() -> Path | None:
    first = os.environ.get("SNAKEPACKER_CA_CERTS", "").split(os.pathsep)[0]
    return Path(first) if first else None


def docker_build(engine: Engine, context: Path, dockerfile: str, tag: str,
                 quiet_label: str, extra: tuple[str, ...] = ()) -> Built:
    """`docker build` of DOCKERFILE (text) with CONTEXT; the CA bundle as a secret."""
    with tempfile.TemporaryDirectory(prefix="snakepacker-uvrecipe-") as tmp:
        path = Path(tmp) / "Dockerfile"
        path.write_text(dockerfile)
        args = [engine.client, "build", "--progress=plain", "-f", str(path), "-t", tag,
                *extra]
        bundle = ca_bundle()
        if bundle:
            args += ["--secret", f"id=ca-certs,src={bundle}"]
        started = time.monotonic()
        proc = subprocess.run([*args, str(context)], env={**engine.env, "DOCKER_BUILDKIT": "1"},
                              capture_output=True, text=True)
        seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{quiet_label}: docker build failed:\n{proc.stderr[-3000:]}")
    return Built(tag, seconds)


def slim_root(distro: str = "bookworm") -> str:
    """The bootstrapped root the slim image starts from (this namespace's, else the
    default one's)."""
    engine = find_engine("docker")
    namespace = os.environ.get("SNAKEPACKER_NAMESPACE", DEFAULT_NAMESPACE)
    for ns in dict.fromkeys((namespace, DEFAULT_NAMESPACE)):
        ref = root_ref(get_distro(distro), ns)
        if engine.image_exists(ref):
            return ref
    raise SystemExit(f"no {distro} root: run `snakepacker bootstrap {distro}` first")


def slim_release(minor: str) -> Release:
    return find_release(SLIM_RELEASES[minor])


def slim_tag(minor: str, release_grade: bool = False) -> str:
    return f"{PREFIX}-slim:{minor}{'-pgo' if release_grade else ''}"


def uv_tag(minor: str) -> str:
    return f"{PREFIX}-uv:{minor}"


def build_slim(minor: str = "3.12", *, release_grade: bool = False,
               engine: Engine | None = None) -> str:
    """Build (or find in the cache) the slim X.Y image; return its tag."""
    engine = _engine(engine)
    release = slim_release(minor)
    tarball = fetch(release, progress=say)
    tag = slim_tag(minor, release_grade)
    text = SLIM_DOCKERFILE.format(
        root=slim_root(), version=release.version, tarball=release.context_name,
        build_packages=" ".join(SLIM_BUILD_PACKAGES),
        optimize=" --enable-optimizations --with-lto" if release_grade else "",
    )
    with tempfile.TemporaryDirectory(prefix="snakepacker-slim-") as tmp:
        target = Path(tmp) / release.context_name
        try:
            os.link(tarball, target)
        except OSError:
            target.write_bytes(tarball.read_bytes())
        docker_build(engine, Path(tmp), text, tag, f"slim {minor}")
    return tag


def build_uv(minor: str = "3.12", *, uv_version: str | None = None,
             release_grade: bool = False, engine: Engine | None = None) -> str:
    """The image uv's binaries are copied from: the slim image with uv from PyPI."""
    engine = _engine(engine)
    slim = build_slim(minor, release_grade=release_grade, engine=engine)
    tag = uv_tag(minor)
    text = UV_DOCKERFILE.format(slim=slim, ca=_CA, pin=f"=={uv_version}" if uv_version else "")
    with tempfile.TemporaryDirectory(prefix="snakepacker-uv-") as tmp:
        docker_build(engine, Path(tmp), text, tag, f"uv {minor}")
    return tag


def lock(project_dir: Path, minor: str = "3.12", *, engine: Engine | None = None) -> Path:
    """Write PROJECT_DIR/uv.lock with the uv image (the recipe syncs --locked)."""
    engine = _engine(engine)
    uv = uv_tag(minor)
    if not engine.image_exists(uv):
        build_uv(minor, engine=engine)
    mounts = ["-v", f"{project_dir.resolve()}:/app", "-w", "/app"]
    script = "uv lock --quiet"
    bundle = ca_bundle()
    if bundle:
        mounts += ["-v", f"{bundle.resolve()}:/run/ca-certs:ro"]
        script = ("cat /etc/ssl/certs/ca-certificates.crt /run/ca-certs > /tmp/ca.pem; "
                  "SSL_CERT_FILE=/tmp/ca.pem " + script)
    proc = subprocess.run([engine.client, "run", "--rm", *mounts, "--entrypoint", "sh", uv,
                           "-c", script], env=engine.env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"uv lock in {project_dir} failed:\n{proc.stderr[-2000:]}")
    return project_dir / "uv.lock"


def recipe_dockerfile(minor: str, cmd: list[str], release_grade: bool = False) -> str:
    return RECIPE_DOCKERFILE.format(slim=slim_tag(minor, release_grade), uv=uv_tag(minor),
                                    ca=_CA, cmd=json.dumps(cmd))


def build_recipe(project_dir: Path, tag: str, *, cmd: list[str], minor: str = "3.12",
                 release_grade: bool = False, engine: Engine | None = None,
                 extra: tuple[str, ...] = ()) -> Built:
    """Build PROJECT_DIR (pyproject.toml + uv.lock; locked first when it has none) with
    the uv guide's recipe as TAG; the seconds are those of that one `docker build`
    (EXTRA: more of its flags, such as --no-cache)."""
    engine = _engine(engine)
    if not engine.image_exists(slim_tag(minor, release_grade)) or \
            not engine.image_exists(uv_tag(minor)):
        build_uv(minor, release_grade=release_grade, engine=engine)
    if not (project_dir / "uv.lock").exists():
        lock(project_dir, minor, engine=engine)
    ignore = project_dir / ".dockerignore"
    if not ignore.exists():
        ignore.write_text(".venv\n__pycache__\n")  # the guide's advice
    return docker_build(engine, project_dir, recipe_dockerfile(minor, cmd, release_grade),
                        tag, f"recipe {project_dir.name}", extra)


def layers(engine: Engine, tag: str) -> list[str]:
    """The image's layer digests (RootFS), bottom first."""
    return list(engine.inspect(tag)["RootFS"]["Layers"])


def layer_sizes(engine: Engine, tag: str) -> list[int]:
    """Bytes each layer adds, bottom first, for the layers that have a diff (the
    history's empty rows left out), so index i matches ``layers()[i]``."""
    proc = subprocess.run([engine.client, "history", "--no-trunc", "--format",
                           "{{.Size}}\t{{.CreatedBy}}", "--human=false", tag],
                          env=engine.env, capture_output=True, text=True, check=True)
    rows = [line.split("\t", 1) for line in proc.stdout.splitlines()][::-1]
    sizes = [int(size) for size, created in rows
             if not _empty_layer(created, size)]
    return sizes


def _empty_layer(created: str, size: str) -> bool:
    # docker history has no "empty" column: config-only instructions report 0 bytes
    # and are not layers; a RUN or COPY of 0 bytes still is one (BuildKit keeps it).
    words = created.replace("/bin/sh -c #(nop) ", "").split()
    first = words[0] if words else ""
    return size == "0" and first in {"ENV", "CMD", "ENTRYPOINT", "LABEL", "USER", "ARG",
                                      "EXPOSE", "VOLUME", "HEALTHCHECK", "STOPSIGNAL",
                                      "SHELL", "ONBUILD", "MAINTAINER"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minor", default="3.12", choices=sorted(SLIM_RELEASES))
    parser.add_argument("--release-grade", action="store_true",
                        help="PGO + LTO as the official image (about 10 minutes here)")
    parser.add_argument("project", nargs="?", type=Path)
    parser.add_argument("tag", nargs="?")
    parser.add_argument("--cmd", default="python", help="the app image's CMD (one word)")
    args = parser.parse_args()
    engine = find_engine("docker")
    started = time.monotonic()
    slim = build_slim(args.minor, release_grade=args.release_grade, engine=engine)
    say(f"{slim}: {(engine.image_size(slim) or 0) / 1e6:.1f} MB "
        f"({time.monotonic() - started:.0f} s)")
    uv = build_uv(args.minor, release_grade=args.release_grade, engine=engine)
    say(f"{uv}: ready")
    if args.project and args.tag:
        built = build_recipe(args.project, args.tag, cmd=[args.cmd], minor=args.minor,
                             release_grade=args.release_grade, engine=engine)
        say(f"{built.tag}: {built.seconds:.1f} s, {len(layers(engine, built.tag))} layers, "
            f"{(engine.image_size(built.tag) or 0) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
