"""The image family: which images exist, what each is built from, and their names.

``Family`` turns ``FamilyOptions`` into an ordered set of ``Image`` entries. Nothing
here renders a Dockerfile or talks to an engine.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from snakepacker.errors import UsageError
from snakepacker.family.apps import APPS, AppRecipe, check_recipes
from snakepacker.family.cpython import FREE_THREADED_SUFFIX, PythonSpec, base_minor
from snakepacker.family.distros import DEFAULT_DISTRO, DISTROS
from snakepacker.family.options import FamilyOptions
from snakepacker.platforms import Platform, native_platform


class ImageKind(enum.StrEnum):
    BASE = "base"
    BUILD = "build"
    TARGET = "target"
    APP = "app"


@dataclass(frozen=True)
class Image:
    name: str  # the family's name for it: "base", "all", "3.12-pillow"
    kind: ImageKind
    template: str  # the template that renders its Dockerfile
    parent: str | None  # the family image it is built FROM; None for base (a distro root)
    needs: tuple[str, ...] = ()  # further family images its build reads from
    python: PythonSpec | None = None  # the interpreter of a target image
    pillow: bool = False
    summary: str = ""
    app: AppRecipe | None = None  # the recipe of an application image

    @property
    def depends_on(self) -> tuple[str, ...]:
        return ((self.parent,) if self.parent else ()) + self.needs


def distro_of_tag(tag: str) -> str:
    """The distro a published tag belongs to: the one its suffix names (Family.tag),
    else the default distro, whose tags have none."""
    for name, distro in DISTROS.items():
        if not distro.default and tag.endswith(f"-{name}"):
            return name
    return DEFAULT_DISTRO


class Family:
    """The family for one distro and one platform (default: this machine's).

    The published names are the same for every platform (a multi-platform list sits
    behind each); the local names of a foreign platform's images carry its suffix
    (``NS/python:3.12-arm64``), so each platform's chain stands on its own parents.
    """

    def __init__(self, options: FamilyOptions, apps: Iterable[AppRecipe] = APPS,
                 platform: Platform | None = None):
        self.options = options
        self.platform = platform or native_platform()
        self.foreign = self.platform != native_platform()
        self.distro = options.distro
        self.apps = check_recipes(apps)
        self.images: dict[str, Image] = {}
        for image in self._define():
            self.images[image.name] = image

    def _define(self) -> Iterator[Image]:
        distro = self.distro.name
        yield Image("base", ImageKind.BASE, "base", None,
                    summary=f"{distro} root with locale, time zone, CA certificates and tools")
        for spec in self.options.pythons:
            yield Image(spec.minor, ImageKind.TARGET, "python", "base", python=spec,
                        summary=f"CPython {spec.minor} runtime ({spec.describe})")
        minors = ", ".join(self.options.minors)
        yield Image("all", ImageKind.BUILD, "all", "base",
                    summary=f"build stage: CPython {minors}, headers, compilers (C, Rust), "
                            "pip, uv, cython, poetry, tox")
        yield Image("all-pillow", ImageKind.BUILD, "all-pillow", "all", pillow=True,
                    summary="build stage: all + Pillow's build headers")
        for spec in self.options.pythons:
            yield Image(f"{spec.minor}-pillow", ImageKind.TARGET, "python-pillow", spec.minor,
                        needs=("all-pillow",), python=spec, pillow=True,
                        summary=f"CPython {spec.minor} + the libraries Pillow needs")
        # Applications whose Python is in the (possibly narrowed) family.
        for app in self.apps:
            if app.python in self.options.minors:
                build, target = self.stands_on(app.python, app.pillow)
                yield Image(app.name, ImageKind.APP, "app", target, needs=(build,),
                            python=self.options.python(app.python), pillow=app.pillow,
                            summary=app.summary, app=app)

    def stands_on(self, minor: str, pillow: bool) -> tuple[str, str]:
        """The family images a venv of MINOR is built in, and runs on: (all, X.Y), or
        with Pillow's libraries (all-pillow, X.Y-pillow). Pack and the app images ask
        here; nothing else decides it."""
        if pillow:
            return "all-pillow", f"{minor}-pillow"
        return "all", minor

    # -- names -----------------------------------------------------------------

    def tag(self, name: str) -> str:
        """The tag under which an image is published; other distros than the default get
        a suffix, so that families of several distros can live side by side."""
        return name if self.distro.default else f"{name}-{self.distro.name}"

    def patch_tag(self, name: str, version: str) -> str:
        """The immutable tag of target image NAME whose interpreter is VERSION:
        3.12 -> 3.12.3, 3.12-pillow -> 3.12.3-pillow, 3.11-bookworm -> 3.11.2-bookworm,
        3.13t -> 3.13.5t."""
        image = self.get(name)
        if image.python is None or not version.startswith(base_minor(image.python.minor) + "."):
            raise UsageError(f"{self.tag(name)} has no patch tag for Python {version}")
        suffix = FREE_THREADED_SUFFIX if image.python.free_threaded else ""
        return version + suffix + self.tag(name).removeprefix(image.python.minor)

    def names_of(self, tag: str) -> tuple[str, str, str]:
        """The three names TAG is published under: a repository per tag and one
        repository for all tags on the registry (--registry), and the short name, last."""
        ns, registry = self.options.namespace, self.options.registry
        return (f"{registry}/{ns}/python/{tag}", f"{registry}/{ns}/python:{tag}",
                f"{ns}/python:{tag}")

    def registry_names(self, name: str) -> tuple[str, str, str]:
        """The three names image NAME is published under."""
        return self.names_of(self.tag(name))

    def local_names_of(self, tag: str) -> tuple[str, ...]:
        """What the engine tags a build of TAG with: the three names on the native
        platform; one name with the platform's suffix on a foreign one (a local tag
        holds one platform's image, and the native one keeps the plain names)."""
        if not self.foreign:
            return self.names_of(tag)
        return (f"{self.options.namespace}/python:{tag}-{self.platform.suffix}",)

    def local_names(self, name: str) -> tuple[str, ...]:
        return self.local_names_of(self.tag(name))

    def ref(self, name: str) -> str:
        """The local reference one family Dockerfile uses for another image of the same
        platform."""
        return self.local_names(name)[-1]

    # -- lookup and order --------------------------------------------------------

    def get(self, name: str) -> Image:
        image = self.images.get(name) or self.images.get(
            name.removesuffix(f"-{self.distro.name}")
        )
        if image is None:
            raise UsageError(f"unknown image tag {name!r} (see `snakepacker images list`)")
        return image

    def closure(self, names: Iterable[str]) -> list[Image]:
        """The named images and everything they stand on, in an order that builds."""
        order: list[Image] = []
        seen: set[str] = set()

        def visit(image: Image) -> None:
            if image.name in seen:
                return
            seen.add(image.name)
            for dep in image.depends_on:
                visit(self.images[dep])
            order.append(image)

        for name in names:
            visit(self.get(name))
        return order

    def __iter__(self) -> Iterator[Image]:
        return iter(self.images.values())
