"""The SBOM of an image, as CycloneDX 1.6 or SPDX 2.3 JSON.

Made from what the image holds (inventory.py reads its dpkg database, the metadata of
every Python distribution and the record of a source-built CPython), never from what
snakepacker meant to install. Only the places those records live are copied out of
the image (inventory.first_places, then second_places): exporting all of `all` costs
more than the whole SBOM otherwise does. The documents are written by the formats' own libraries
(cyclonedx-python-lib, spdx-tools), which also check them. The same image always gives
the same bytes: the serial number and namespace derive from the image id, the
timestamp is the image's creation time. ``sbom_for(engine, ref, fmt)`` returns the
document, which a signed push attests as it is (with the provenance, provenance.py).
"""

from __future__ import annotations

import enum
import functools
import io
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from snakepacker import __version__
from snakepacker.engine import Engine
from snakepacker.errors import UsageError
from snakepacker.supply.imagefs import parts_of
from snakepacker.supply.inventory import (
    DebPackage,
    Interpreter,
    Inventory,
    PyDist,
    first_places,
    inventory,
    second_places,
    wanted,
)
from snakepacker.tempdirs import temporary_directory


class Format(enum.StrEnum):
    CYCLONEDX = "cyclonedx"
    SPDX = "spdx"


FORMATS = tuple(f.value for f in Format)


def check_format(name: str) -> Format:
    try:
        return Format(name)
    except ValueError:
        raise UsageError(f"unknown SBOM format {name!r} (known: {', '.join(FORMATS)})") from None


@dataclass(frozen=True)
class Subject:
    """The image an SBOM describes."""

    ref: str
    image_id: str  # sha256:...
    created: datetime
    labels: Mapping[str, str]
    platform: str = ""  # os/architecture[/variant], from the image's config


def read_image(engine: Engine, ref: str) -> tuple[Subject, Inventory]:
    """REF's identity and inventory, from its own files (nothing of it runs): the
    places those records live, copied out in two rounds (inventory.first_places, then
    what they name), not the whole file system."""
    info = engine.inspect(ref)
    config = info.get("Config") or {}
    labels = config.get("Labels") or {}
    platform = "/".join(p for p in (info.get("Os"), info.get("Architecture"),
                                    info.get("Variant")) if p)
    subject = Subject(ref, info["Id"], _parse_time(info.get("Created", "")), labels, platform)
    with parts_of(engine, ref) as read:
        first = read(first_places(labels, config.get("Env") or ()), wanted)
        second = read(second_places(first.files), wanted)
    files = {**first.files, **second.files}
    regular = (e.path for snap in (first, second) for e in snap.entries.values()
               if e.kind == "file")
    return subject, inventory(files, regular, labels)


def sbom_for(engine: Engine, ref: str, fmt: Format | str = Format.CYCLONEDX) -> str:
    """The SBOM of image REF as JSON text: what `snakepacker sbom` prints, and what a
    signed push attests about the image."""
    fmt = check_format(str(fmt))
    subject, inv = read_image(engine, ref)
    return document(subject, inv, fmt)


def document(subject: Subject, inv: Inventory, fmt: Format) -> str:
    return cyclonedx_json(subject, inv) if fmt is Format.CYCLONEDX else spdx_json(subject, inv)


def _parse_time(text: str) -> datetime:
    """The engine's RFC 3339 time (nanoseconds and all), to the second, in UTC."""
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


# -- package URLs and names ------------------------------------------------------------


def deb_purl(package: DebPackage, inv: Inventory) -> str:
    from packageurl import PackageURL

    qualifiers = {"arch": package.architecture, "distro": inv.os.purl_distro}
    if package.source != package.name or package.source_version != package.version:
        qualifiers["upstream"] = (package.source if package.source_version == package.version
                                  else f"{package.source}@{package.source_version}")
    return PackageURL(type="deb", namespace=inv.os.id, name=package.name,
                      version=package.version, qualifiers=qualifiers).to_string()


def pypi_purl(dist: PyDist) -> str:
    from packageurl import PackageURL

    return PackageURL(type="pypi", name=dist.normalized, version=dist.version).to_string()


def cpython_purl(interpreter: Interpreter) -> str:
    from packageurl import PackageURL

    qualifiers = {"checksum": f"sha256:{interpreter.sha256}"} if interpreter.sha256 else {}
    return PackageURL(type="generic", name="cpython", version=interpreter.version,
                      qualifiers=qualifiers).to_string()


def _cpython_properties(interpreter: Interpreter) -> dict[str, str]:
    props = {"snakepacker:cpython:route": interpreter.route,
             "snakepacker:cpython:executable": interpreter.executable}
    if interpreter.route == "source":
        props.update({
            "snakepacker:cpython:tarball": interpreter.tarball,
            "snakepacker:cpython:origin": interpreter.origin,
            "snakepacker:cpython:sha256": interpreter.sha256,
            "snakepacker:cpython:configure": interpreter.configure,
            "snakepacker:cpython:interpreter-configure": interpreter.interpreter_configure,
            "snakepacker:cpython:grade": interpreter.grade,
        })
    elif interpreter.package is not None:
        props["snakepacker:cpython:package"] = (
            f"{interpreter.package.name} {interpreter.package.version}")
    return {k: v for k, v in props.items() if v}


def _is_project(dist: PyDist, inv: Inventory) -> bool:
    return inv.project is not None and dist.normalized == canonicalize_name(inv.project[0]) \
        and dist.version == inv.project[1]


def _image_name(subject: Subject) -> str:
    return subject.labels.get("org.opencontainers.image.title") or subject.ref


# -- CycloneDX ---------------------------------------------------------------------------


def cyclonedx_json(subject: Subject, inv: Inventory) -> str:
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    licenses = LicenseFactory()

    def props(mapping: Mapping[str, str]) -> list[Property]:
        return [Property(name=k, value=v) for k, v in mapping.items()]

    image = Component(
        type=ComponentType.CONTAINER, name=_image_name(subject), version=subject.image_id,
        bom_ref=f"image:{subject.image_id}",
        properties=props({"snakepacker:image:ref": subject.ref, **{
            f"oci:label:{k}": v for k, v in sorted(subject.labels.items())}}),
    )
    components: list[Component] = []
    debs: dict[str, Component] = {}
    for package in inv.packages:
        purl = deb_purl(package, inv)
        component = Component(
            type=ComponentType.LIBRARY, name=package.name, version=package.version,
            purl=PackageURL.from_string(purl), bom_ref=purl,
            description=package.description or None,
            properties=props({"snakepacker:deb:architecture": package.architecture,
                              "snakepacker:deb:source": package.source,
                              "snakepacker:deb:source-version": package.source_version}),
        )
        debs[package.name] = component
        components.append(component)
    pythons: list[tuple[Component, Component | None]] = []
    for interpreter in inv.interpreters:
        component = Component(
            type=ComponentType.APPLICATION, name="cpython", version=interpreter.version,
            purl=PackageURL.from_string(cpython_purl(interpreter)),
            bom_ref=f"cpython:{interpreter.executable}",
            properties=props(_cpython_properties(interpreter)),
        )
        components.append(component)
        carrier = debs.get(interpreter.package.name) if interpreter.package else None
        pythons.append((component, carrier))
    for dist in inv.dists:
        project = _is_project(dist, inv)
        component = Component(
            type=ComponentType.APPLICATION if project else ComponentType.LIBRARY,
            name=dist.name, version=dist.version,
            purl=PackageURL.from_string(pypi_purl(dist)),
            bom_ref=f"pypi:/{dist.site}:{dist.normalized}@{dist.version}",
            description=dist.summary or None,
            licenses=[licenses.make_from_string(dist.license)] if dist.license else None,
            properties=props({"snakepacker:python:site": "/" + dist.site,
                              **({"snakepacker:role": "project"} if project else {})}),
        )
        components.append(component)

    bom = Bom(
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"snakepacker-sbom:{subject.image_id}"),
        metadata=BomMetaData(component=image, timestamp=subject.created, properties=props({
            "snakepacker:os": inv.os.pretty_name,
            **({"snakepacker:venvs": " ".join("/" + v for v in inv.venvs)} if inv.venvs
               else {}),
        })),
        components=components,
    )
    bom.metadata.tools.components.add(Component(
        type=ComponentType.APPLICATION, name="snakepacker", version=__version__))
    # The graph in one go (the image needs every component; an interpreter, the
    # package that carries it): Bom.register_dependency looks each one up in a list,
    # which on `all` costs more than writing the document.
    carriers = {id(component): carrier for component, carrier in pythons if carrier}
    bom.dependencies = [
        Dependency(ref=image.bom_ref, dependencies=[Dependency(ref=c.bom_ref)
                                                    for c in components]),
        *(Dependency(ref=c.bom_ref, dependencies=[Dependency(ref=carriers[id(c)].bom_ref)]
                     if id(c) in carriers else []) for c in components),
    ]
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def validate_cyclonedx(text: str) -> list[str]:
    """Errors of TEXT against the CycloneDX 1.6 JSON schema (strict); [] when valid."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    return [str(e) for e in errors or ()]


# -- SPDX --------------------------------------------------------------------------------


def spdx_json(subject: Subject, inv: Inventory) -> str:
    from spdx_tools.spdx.model import (
        Actor,
        ActorType,
        CreationInfo,
        Document,
        ExternalPackageRef,
        ExternalPackageRefCategory,
        Package,
        PackagePurpose,
        Relationship,
        RelationshipType,
        SpdxNoAssertion,
    )
    from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

    digest = subject.image_id.split(":")[-1]
    creation = CreationInfo(
        spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT", name=f"SBOM of {subject.ref}",
        document_namespace=f"urn:snakepacker:sbom:{uuid.uuid5(uuid.NAMESPACE_URL, digest)}",
        creators=[Actor(ActorType.TOOL, f"snakepacker-{__version__}")],
        created=subject.created.replace(tzinfo=None),
    )
    purl_ref = ExternalPackageRefCategory.PACKAGE_MANAGER

    def package(spdx_id: str, name: str, version: str, purl: str, purpose: PackagePurpose,
                license_text: str = "", comment: str | None = None) -> Package:
        declared, license_comment = _spdx_license(license_text)
        return Package(
            spdx_id=spdx_id, name=name, version=version,
            download_location=SpdxNoAssertion(), files_analyzed=False,
            license_declared=declared, license_comment=license_comment,
            external_references=[ExternalPackageRef(purl_ref, "purl", purl)] if purl else [],
            primary_package_purpose=purpose, comment=comment,
        )

    image = package("SPDXRef-image", _image_name(subject), subject.image_id, "",
                    PackagePurpose.CONTAINER, comment=f"image {subject.ref}")
    packages = [image]
    for number, deb in enumerate(inv.packages, 1):
        packages.append(package(
            f"SPDXRef-deb-{number}", deb.name, deb.version, deb_purl(deb, inv),
            PackagePurpose.LIBRARY,
            comment=f"source package {deb.source} {deb.source_version}, {deb.architecture}"))
    for number, interpreter in enumerate(inv.interpreters, 1):
        details = "; ".join(f"{k.rsplit(':', 1)[-1]}: {v}"
                            for k, v in _cpython_properties(interpreter).items())
        packages.append(package(f"SPDXRef-cpython-{number}", "cpython", interpreter.version,
                                cpython_purl(interpreter), PackagePurpose.APPLICATION,
                                comment=details))
    for number, dist in enumerate(inv.dists, 1):
        project = _is_project(dist, inv)
        packages.append(package(
            f"SPDXRef-pypi-{number}", dist.name, dist.version, pypi_purl(dist),
            PackagePurpose.APPLICATION if project else PackagePurpose.LIBRARY,
            license_text=dist.license,
            comment=f"installed in /{dist.site}" + ("; the packed project" if project else "")))
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, image.spdx_id)]
    relationships += [Relationship(image.spdx_id, RelationshipType.CONTAINS, p.spdx_id)
                      for p in packages[1:]]
    document = Document(creation_info=creation, packages=packages, relationships=relationships)
    out = io.StringIO()
    # The model checks every field's type as it is built; the full validation (half
    # the time of `sbom --format spdx` on `all`) runs in the tests, on real images.
    write_document_to_stream(document, out, validate=False)
    return json.dumps(json.loads(out.getvalue()), indent=2) + "\n"


@functools.cache
def _licensing() -> Any:
    """The SPDX licence list, loaded once (and its tokenizer built once) per run."""
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _spdx_license(text: str) -> tuple[object, str | None]:
    """A declared licence SPDX accepts, or NOASSERTION with the project's words kept as
    a comment (many projects write "BSD" or "Apache 2.0", which are no SPDX ids)."""
    from spdx_tools.spdx.model import SpdxNoAssertion

    if not text:
        return SpdxNoAssertion(), None
    try:
        parsed = _licensing().parse(text, validate=True, strict=True)
    except Exception:  # the library raises several kinds for words it does not know
        return SpdxNoAssertion(), f"declared as: {text}"
    return parsed, None


def validate_spdx(text: str) -> list[str]:
    """Errors of TEXT as an SPDX 2.3 document (parsed and checked by spdx-tools, which
    reads documents from files only)."""
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    with temporary_directory() as tmp:
        path = Path(tmp, "sbom.spdx.json")
        path.write_text(text)
        document = parse_file(str(path))
    return [m.validation_message for m in validate_full_spdx_document(document)]
