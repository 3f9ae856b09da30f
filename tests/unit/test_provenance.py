"""The SLSA provenance a signed push attests, built from a synthetic image's labels
and records: what each field says, where it comes from, and what is left out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from snakepacker.family import labels
from snakepacker.family.cpython import PythonSpec, Route, find_release
from snakepacker.supply import provenance, sbom
from snakepacker.supply.inventory import Inventory, inventory
from tests.unit.test_inventory import METADATA, STATUS, _record

REVISION = "0123456789abcdef0123456789abcdef01234567"
PARENT = "sha256:" + "5" * 64
SITE = "opt/venv/lib/python3.12/site-packages"


def image(extra_labels: dict[str, str], packed: bool = False,
          ) -> tuple[sbom.Subject, Inventory]:
    """A 3.12 image (source-built CPython, two dpkg packages, two distributions); a
    packed app's when PACKED."""
    release = find_release("3.12.3")
    record = labels.build_record("jammy", [PythonSpec("3.12", Route.SOURCE, release)],
                                 "release")
    files = {
        "var/lib/dpkg/status": STATUS.encode(),
        "etc/os-release": b"ID=ubuntu\nVERSION_ID=22.04\nVERSION_CODENAME=jammy\n",
        "usr/share/snakepacker/cpython-3.12.json": _record("3.12", "3.12.3"),
        f"{SITE}/Demo_App-1.2.3.dist-info/METADATA": METADATA.encode(),
        f"{SITE}/odd-2.dist-info/METADATA": b"Name: odd\nVersion: 2\n",
        "opt/venv/pyvenv.cfg": b"home = /opt/python/3.12/bin\n",
    }
    given = {"org.opencontainers.image.title": "snakepacker/python:3.12",
             labels.BUILD_LABEL: record,
             "org.opencontainers.image.base.name": "snakepacker/python:base",
             "org.opencontainers.image.base.digest": PARENT,
             "io.snakepacker.parent": PARENT, **extra_labels}
    if packed:
        files["usr/share/snakepacker/pack/dists.txt"] = b"demo-app 1.2.3\n"
        given.update({"io.snakepacker.venv": "/opt/venv", "io.snakepacker.python": "3.12",
                      "org.opencontainers.image.title": "demo-app"})
    subject = sbom.Subject("r/demo:1", "sha256:" + "1" * 64,
                           datetime(2026, 1, 2, tzinfo=UTC), given, "linux/arm64")
    paths = [*files, "opt/python/3.12/bin/python3.12"]
    return subject, inventory(files, paths, given)


def test_a_family_image_names_its_build_and_everything_it_was_made_of() -> None:
    subject, inv = image({"org.opencontainers.image.source": "https://example.invalid/sp",
                          "org.opencontainers.image.revision": REVISION,
                          labels.DOCKERFILE_LABEL: "sha256:" + "d" * 64})
    doc = provenance.provenance(subject, inv, builder_version="9.8.7")
    build = doc["buildDefinition"]
    assert build["buildType"] == provenance.FAMILY_BUILD
    assert build["externalParameters"] == {
        "image": "snakepacker/python:3.12", "platform": "linux/arm64", "distro": "jammy",
        "grade": "release", "cpython": [{"minor": "3.12", "route": "source",
                                         "version": "3.12.3"}]}
    deps = build["resolvedDependencies"]
    assert deps[0] == {"name": "source", "uri": "https://example.invalid/sp",
                       "digest": {"gitCommit": REVISION}}
    # The Dockerfile, by the digest the engine's build call labelled the image with.
    assert deps[1] == {"name": "Dockerfile", "digest": {"sha256": "d" * 64},
                       "annotations": {"digestOf": "the rendered Dockerfile the image was "
                                                   "built from"}}
    assert deps[2]["name"] == "snakepacker/python:base"
    assert deps[2]["digest"] == {"sha256": "5" * 64}
    # The tarball from the record the build left in the image (its label says the
    # release's own sha256; the record, the bytes the build used, wins).
    tarballs = [d for d in deps if d.get("name", "").startswith("Python-")]
    assert tarballs == [{"uri": f"pkg:generic/cpython@3.12.3?checksum=sha256:{'ab' * 32}",
                         "name": "Python-3.12.3.tar.xz", "digest": {"sha256": "ab" * 32},
                         "annotations": {"origin": "python.org release"}}]
    uris = [d["uri"] for d in deps if "uri" in d]
    assert "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.8?arch=amd64&distro=ubuntu-22.04" \
        "&upstream=glibc" in uris
    assert {"pkg:pypi/demo-app@1.2.3", "pkg:pypi/odd@2"} <= set(uris)
    assert doc["runDetails"] == {"builder": {"id": "pkg:generic/snakepacker@9.8.7",
                                             "version": {"snakepacker": "9.8.7"}}}
    # Every dependency is something SLSA can name: a URI or a digest.
    assert all("uri" in d or "digest" in d for d in deps)


def test_a_packed_app_is_its_own_build_type_and_not_its_own_dependency() -> None:
    subject, inv = image({"org.opencontainers.image.source": "https://example.invalid/app",
                          "org.opencontainers.image.revision": "unknown"}, packed=True)
    doc = provenance.provenance(subject, inv)
    build = doc["buildDefinition"]
    assert build["buildType"] == provenance.PACK_BUILD
    params = build["externalParameters"]
    assert params["project"] == {"name": "demo-app", "version": "1.2.3"}
    assert (params["image"], params["python"], params["venv"]) == ("demo-app", "3.12",
                                                                   "/opt/venv")
    uris = [d.get("uri") for d in build["resolvedDependencies"]]
    assert "pkg:pypi/odd@2" in uris and "pkg:pypi/demo-app@1.2.3" not in uris
    # No checkout: the source is named, with no commit and no made-up revision.
    assert build["resolvedDependencies"][0] == {"name": "source",
                                                "uri": "https://example.invalid/app"}


def test_what_the_image_does_not_record_is_left_out() -> None:
    """No revision that is a commit, no base digest, no CPython record: the provenance
    says less, never something the image does not say."""
    subject, inv = image({"org.opencontainers.image.revision": "0.1.0",
                          "org.opencontainers.image.base.digest": "unknown",
                          labels.DOCKERFILE_LABEL: "sha256:short"})
    bare = Inventory(inv.os, inv.packages, (), (), ())
    deps = provenance.provenance(subject, bare)["buildDefinition"]["resolvedDependencies"]
    assert not any(d.get("name") == "source" for d in deps)  # a version is no source
    assert not any(d.get("name") in ("snakepacker/python:base", "Dockerfile") for d in deps)
    # The tarball then comes from the build label: the release's own sha256.
    release = find_release("3.12.3")
    assert [d["digest"] for d in deps if d.get("name") == release.file] == [
        {"sha256": release.sha256}]
    doc = provenance.provenance(subject, bare)
    assert "metadata" not in doc["runDetails"]  # no invocation id or times: not recorded


def test_the_same_image_gives_the_same_bytes() -> None:
    subject, inv = image({"org.opencontainers.image.revision": REVISION})
    text = provenance.provenance_json(subject, inv)
    assert text == provenance.provenance_json(subject, inv)
    assert json.loads(text) == provenance.provenance(subject, inv)
