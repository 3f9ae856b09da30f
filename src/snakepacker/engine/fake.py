"""An engine in memory, for testing snakepacker's own logic in milliseconds.

It records every call (``calls``) and every build whole (``builds``: the Dockerfile,
the build arguments and the platform it was asked for), keeps tags and images in
dictionaries, and answers with what the test configured: which refs exist or can be
pulled, each image's size, history and layers, the files a reader copies out of it, its
saved archive, and which builds fail. It proves nothing about docker or podman; the
engine tests do that.

A built image's id comes from what a real engine's would: the Dockerfile and the build
arguments (which name the parent by id). Not from the platform: an id that differed
only because the fake mixed the platform in would let a test "prove" a per-platform
build that snakepacker never asked for. Which platform each image was made for is kept
apart (``platforms``), where a test, or a fake registry, reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import posixpath
import subprocess
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from snakepacker.engine.base import Engine, Progress, Secret
from snakepacker.errors import BuildError, EngineError
from snakepacker.platforms import get_platform, native_platform


@dataclass(frozen=True)
class Call:
    method: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class FakeBuild:
    """One build as snakepacker asked for it, and the id it got."""

    label: str
    dockerfile: str
    build_args: dict[str, str]
    platform: str | None  # what --platform said; None: the engine's own
    image_id: str

    @property
    def froms(self) -> list[str]:
        """The image each FROM line names, in order."""
        return [line.split()[1] for line in self.dockerfile.splitlines()
                if line.startswith("FROM ")]


@dataclass
class FakeEngine(Engine):
    """``images`` maps refs and ids to image ids; a build of a context whose label is in
    ``fail_builds`` raises BuildError; ``sizes``, ``histories``, ``layers``, ``files``
    and ``saved`` are keyed by ref, by id, or by the label of the build that made the
    image (whose id a test cannot know beforehand);
    ``platforms`` maps an image id to the platform it is for (builds, imports and pulls
    fill it in; a test presets it for the images it puts in ``images``)."""

    images: dict[str, str] = field(default_factory=dict)
    pullable: set[str] = field(default_factory=set)
    sizes: dict[str, int] = field(default_factory=dict)
    histories: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    fail_builds: set[str] = field(default_factory=set)
    # What a run prints; by default a target's python3 answers the version probe (X.Y.0
    # for the minor its build's label names) and the machine probe (by --platform).
    run_output: Callable[[Sequence[str]], str] | None = None
    labels: dict[str, str] = field(default_factory=dict)  # image id -> its build's label
    image_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # ref -> LABELs
    calls: list[Call] = field(default_factory=list)
    builds: list[FakeBuild] = field(default_factory=list)
    platforms: dict[str, str] = field(default_factory=dict)  # image id -> os/arch
    # Keyed by ref or id: an image's layers (diff ids, oldest first), its files (absolute
    # path -> bytes) as `copy_out` hands them, and its `save` archive.
    layers: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    saved: dict[str, bytes] = field(default_factory=dict)
    containers: dict[str, str] = field(default_factory=dict)  # container -> image ref
    native: str = field(default_factory=lambda: native_platform().name)
    name: str = "fake"
    client: str = "fake"
    version: str = "0"
    env: dict[str, str] = field(default_factory=dict)

    def _record(self, method: str, *args: Any) -> None:
        self.calls.append(Call(method, args))

    def called(self, method: str) -> list[tuple[Any, ...]]:
        """The arguments of every call to METHOD, in order."""
        return [call.args for call in self.calls if call.method == method]

    def _resolve(self, ref: str) -> str | None:
        return ref if ref in self.images.values() else self.images.get(ref)

    def platform_of(self, ref: str) -> str:
        """The platform of the image REF names (KeyError when the test did not say)."""
        found = self._resolve(ref)
        if found is None:
            raise EngineError(f"no image {ref} on fake")
        return self.platforms[found]

    def _made(self, image_id: str, platform: str | None) -> None:
        made_for = platform or self.native
        if self.platforms.setdefault(image_id, made_for) != made_for:
            raise AssertionError(
                f"the fake engine made {image_id} for {self.platforms[image_id]} and was "
                f"asked for the very same image for {made_for}: a real engine gives each "
                "platform an image of its own, so no test can rely on this one")

    def check_daemon(self) -> None:
        self._record("check_daemon")

    def build(
        self,
        context: Path,
        *,
        label: str,
        secrets: Sequence[Secret] = (),
        build_args: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        verbose: bool = False,
        no_cache: bool = False,
        platform: str | None = None,
    ) -> str:
        dockerfile = (context / "Dockerfile").read_text()
        args = dict(build_args or {})
        self._record("build", label, args, tuple(s.id for s in secrets))
        if label in self.fail_builds:
            raise BuildError(f"building {label} failed at [1/1] RUN false (exit code 1)")
        inputs = json.dumps([dockerfile, sorted(args.items())])
        image_id = "sha256:" + hashlib.sha256(inputs.encode()).hexdigest()
        self._made(image_id, platform)
        self.builds.append(FakeBuild(label, dockerfile, args, platform, image_id))
        self.images[image_id] = image_id
        self.labels[image_id] = label
        return image_id

    def _answer(self, args: Sequence[str]) -> str:
        text = " ".join(args)
        if "python_version()" in text:
            image = args[args.index("python3") + 1] if "python3" in args else ""
            label = self.labels.get(self._resolve(image) or "", image)
            minor = next((w for w in label.replace(":", " ").replace("-", " ").split()
                          if w.count(".") == 1 and w.replace(".", "").isdigit()), "3.12")
            return f"{minor}.0\n"
        if "platform.machine()" in text:
            chosen = args[args.index("--platform") + 1] if "--platform" in args else self.native
            return get_platform(chosen).machine + "\n"
        return ""

    def tag(self, image_id: str, refs: Iterable[str]) -> None:
        refs = tuple(refs)
        self._record("tag", image_id, refs)
        found = self._resolve(image_id) or image_id  # a ref names the image it holds
        for ref in refs:
            self.images[ref] = found

    def remove(self, refs: Iterable[str]) -> None:
        refs = tuple(refs)
        self._record("remove", refs)
        for ref in refs:
            self.images.pop(ref, None)

    def image_exists(self, ref: str) -> bool:
        self._record("image_exists", ref)
        return self._resolve(ref) is not None

    def image_id(self, ref: str) -> str | None:
        self._record("image_id", ref)
        return self._resolve(ref)

    def image_size(self, ref: str) -> int | None:
        self._record("image_size", ref)
        if self._resolve(ref) is None:
            return None
        return self._keyed(self.sizes, ref) or 0

    def id_and_labels(self, ref: str) -> tuple[str, dict[str, str]] | None:
        self._record("id_and_labels", ref)
        found = self._resolve(ref)
        return None if found is None else (found, dict(self.image_labels.get(ref) or {}))

    def history(self, ref: str) -> list[tuple[int, str]]:
        self._record("history", ref)
        return list(self._keyed(self.histories, ref) or [])

    def inspect(self, ref: str) -> dict[str, Any]:
        self._record("inspect", ref)
        found = self._resolve(ref)
        if found is None:
            raise EngineError(f"no image {ref} on fake")
        return {"Id": found, "Size": self.image_size(ref),
                "RootFS": {"Layers": list(self._keyed(self.layers, ref) or [])}}

    def _keyed(self, table: Mapping[str, Any], ref: str) -> Any:
        """TABLE's entry for REF, for the image REF names, or for its build's label."""
        found = self._resolve(ref) or ""
        for key in (ref, found, self.labels.get(found)):
            if key in table:
                return table[key]
        return None

    @contextlib.contextmanager
    def save(self, ref: str) -> Iterator[IO[bytes]]:
        self._record("save", ref)
        archive = self._keyed(self.saved, ref)
        if archive is None:
            raise EngineError(f"no image {ref} to save on fake")
        yield io.BytesIO(archive)

    @contextlib.contextmanager
    def created(self, ref: str, count: int = 1) -> Iterator[list[str]]:
        self._record("created", ref, count)
        if self._resolve(ref) is None:
            raise EngineError(f"no image {ref} on fake")
        ids = [f"fake-container-{len(self.containers) + n}" for n in range(count)]
        self.containers.update(dict.fromkeys(ids, ref))
        try:
            yield ids
        finally:
            for container in ids:
                self.containers.pop(container, None)

    @contextlib.contextmanager
    def copy_out(self, container: str, path: str) -> Iterator[IO[bytes]]:
        """What `cp CONTAINER:PATH -` gives: PATH and what is under it, named from
        PATH's base name on; an empty tar where there is no such path."""
        self._record("copy_out", container, path)
        files = self._keyed(self.files, self.containers[container]) or {}
        parent = posixpath.dirname(path.rstrip("/"))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name in sorted(files):
                if name == path or name.startswith(path.rstrip("/") + "/"):
                    info = tarfile.TarInfo(posixpath.relpath(name, parent))
                    info.size = len(files[name])
                    tar.addfile(info, io.BytesIO(files[name]))
        buffer.seek(0)
        yield buffer

    def run(
        self, args: Sequence[str], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        self._record("run", tuple(args))
        out = self.run_output(args) if self.run_output else self._answer(args)
        return subprocess.CompletedProcess(["fake", "run", *args], 0, out, "")

    def pull(self, ref: str) -> bool:
        self._record("pull", ref)
        if ref in self.pullable:
            self.images[ref] = "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
            self._made(self.images[ref], None)  # a pull takes the engine's own platform
            return True
        return False

    def push(self, ref: str) -> str:
        self._record("push", ref)
        found = self._resolve(ref)
        if found is None:
            raise EngineError(f"no image {ref} to push")
        return found

    def import_tarball(self, tarball: Path, ref: str, changes: Sequence[str] = (),
                       platform: str | None = None) -> str:
        self._record("import_tarball", tarball, ref, tuple(changes), platform)
        image_id = "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
        self._made(image_id, platform)
        self.images[ref] = image_id
        self.images[image_id] = image_id
        return image_id

    def make_list(self, list_ref: str, members: Sequence[str]) -> str:
        self._record("make_list", list_ref, tuple(members))
        return "sha256:" + hashlib.sha256("\n".join(members).encode()).hexdigest()
