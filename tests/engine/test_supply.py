"""Supply chain on the real engine: SBOMs of the family slice and of the packed demo
checked against the schema and against what the images themselves report (dpkg-query,
importlib.metadata, the interpreters), provenance labels, and reproducible builds
compared with `images diff`.

The family slice is the session's (tests/conftest.py); the tests that build `base`
again (without cache, or at another time) do it under a scratch namespace of this
file's own, `base` alone, so the slice's tags are left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snakepacker.family.cpython import find_release
from snakepacker.family.labels import DOCKERFILE_LABEL
from snakepacker.supply.sbom import validate_cyclonedx, validate_spdx
from tests.helpers import FAMILY_ARGS, Docker, snakepacker

pytestmark = pytest.mark.engine

SCRATCH = ("--namespace", "sptest-supply-ns", "--registry", "sptest-supply-reg")
# Lists every distribution this interpreter sees: normalised name, version, folder.
LIST_DISTS = (
    "import importlib.metadata as m, re\n"
    "for d in m.distributions():\n"
    "    name = re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()\n"
    "    print(name, d.version, str(d.locate_file('')).rstrip('/'))\n"
)


def ref(tag: str) -> str:
    return f"sptest-supply-ns/python:{tag}"


def scratch_names() -> list[str]:
    return [ref("base"), "sptest-supply-reg/sptest-supply-ns/python/base",
            "sptest-supply-reg/sptest-supply-ns/python:base"]


@pytest.fixture(scope="module")
def supply_family(family_images: dict[str, str]) -> dict[str, str]:
    return family_images


def sbom_of(image: str, fmt: str = "cyclonedx") -> dict:
    proc = snakepacker("sbom", image, "--format", fmt)
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = validate_cyclonedx(proc.stdout) if fmt == "cyclonedx" else validate_spdx(proc.stdout)
    assert errors == [], errors[:5]
    return json.loads(proc.stdout)


def properties(component: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def dpkg_in_image(docker: Docker, image: str) -> set[tuple[str, str, str]]:
    out = docker.run(image, ["dpkg-query", "-W", "-f",
                             "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"],
                     "--entrypoint", "").stdout
    return {tuple(line.split("\t")[1:]) for line in out.splitlines()  # type: ignore[misc]
            if line.startswith("ii")}


def dists_seen_by(docker: Docker, image: str, pythons: set[str]) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for python in sorted(pythons):
        out = docker.run(image, [python, "-I", "-c", LIST_DISTS], "--entrypoint", "").stdout
        found |= {tuple(line.split(" ", 2)) for line in out.splitlines()}  # type: ignore[misc]
    return found


def check_against_image(docker: Docker, image: str, doc: dict) -> None:
    components = doc["components"]
    debs = {(c["name"], c["version"], properties(c)["snakepacker:deb:architecture"])
            for c in components if c["purl"].startswith("pkg:deb/")}
    assert debs == dpkg_in_image(docker, image)
    assert all("distro=ubuntu-22.04" in c["purl"] and "arch=" in c["purl"]
               for c in components if c["purl"].startswith("pkg:deb/ubuntu/"))
    pythons = {properties(c)["snakepacker:cpython:executable"]
               for c in components if c["name"] == "cpython"}
    venvs = properties(doc["metadata"]).get("snakepacker:venvs", "").split()
    pythons |= {f"{venv}/bin/python" for venv in venvs}
    dists = {(c["purl"].split("/")[1].split("@")[0], c["version"],
              properties(c)["snakepacker:python:site"])
             for c in components if c["purl"].startswith("pkg:pypi/")}
    assert dists == dists_seen_by(docker, image, pythons)


@pytest.mark.parametrize("tag", ["base", "3.12", "all"])
def test_sbom_of_family_images_matches_the_image(
        supply_family: dict[str, str], docker: Docker, tag: str) -> None:
    image = supply_family[tag]
    doc = sbom_of(image)
    check_against_image(docker, image, doc)
    cpythons = {properties(c)["snakepacker:cpython:executable"]: c
                for c in doc["components"] if c["name"] == "cpython"}
    if tag == "base":
        assert cpythons == {}
        return
    source = cpythons["/opt/python/3.12/bin/python3.12"]
    release = find_release("3.12.3")
    props = properties(source)
    assert source["version"] == "3.12.3"
    assert props["snakepacker:cpython:sha256"] == release.sha256
    assert props["snakepacker:cpython:tarball"] == release.file
    # sysconfig's flags are the shared build's. A release build makes its interpreter
    # in a second build without --enable-shared; this quick build linked it from the
    # shared build's own objects, and the record says so.
    assert props["snakepacker:cpython:grade"] == "quick"
    assert "--enable-shared" in props["snakepacker:cpython:configure"]
    interpreter = props["snakepacker:cpython:interpreter-configure"]
    assert "'--prefix=/opt/python/3.12'" in interpreter and "--enable-shared" in interpreter
    real = docker.run(image, ["/opt/python/3.12/bin/python3.12", "-c",
                              "import platform; print(platform.python_version())"],
                      "--entrypoint", "").stdout.strip()
    assert real == "3.12.3"
    if tag == "all":  # 3.10 comes from the distro's package
        distro = cpythons["/usr/bin/python3.10"]
        real = docker.run(image, ["python3.10", "-c",
                                  "import platform; print(platform.python_version())"],
                          "--entrypoint", "").stdout.strip()
        assert distro["version"] == real
        assert properties(distro)["snakepacker:cpython:package"].startswith(
            "python3.10-minimal ")


def test_spdx_of_base_matches_dpkg(supply_family: dict[str, str], docker: Docker) -> None:
    image = supply_family["base"]
    doc = sbom_of(image, "spdx")
    names = {(p["name"], p["versionInfo"]) for p in doc["packages"]
             if p["SPDXID"].startswith("SPDXRef-deb-")}
    assert names == {(n, v) for n, v, _ in dpkg_in_image(docker, image)}


def test_sbom_of_the_packed_demo_names_the_project(packed_demo: str, docker: Docker) -> None:
    doc = sbom_of(packed_demo)
    check_against_image(docker, packed_demo, doc)
    project = [c for c in doc["components"]
               if properties(c).get("snakepacker:role") == "project"]
    assert [(c["name"], c["type"], c["purl"]) for c in project] == [
        ("demo-app", "application", "pkg:pypi/demo-app@0.1.0")]
    assert properties(project[0])["snakepacker:python:site"].startswith(
        "/usr/share/python3/app/lib/python3.12/")


def test_sbom_finds_a_virtualenv_the_path_points_to(
        supply_family: dict[str, str], docker: Docker, tmp_path: Path) -> None:
    """The SBOM copies out only where records live; a venv elsewhere is found through
    the image's PATH, as a Dockerfile puts it first."""
    site = "/srv/tool/lib/python3.12/site-packages"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {supply_family['3.12']}\n"
        "RUN /opt/python/3.12/bin/python3.12 -m venv --without-pip /srv/tool && "
        f"mkdir {site}/sptool-1.2.dist-info && "
        f"printf 'Metadata-Version: 2.1\\nName: SPTool\\nVersion: 1.2\\n' "
        f"> {site}/sptool-1.2.dist-info/METADATA\n"
        "ENV PATH=/srv/tool/bin:$PATH\n")
    docker.build(str(tmp_path), "-t", "sptest-supply-venv:pytest")
    try:
        doc = sbom_of("sptest-supply-venv:pytest")
        check_against_image(docker, "sptest-supply-venv:pytest", doc)
        tools = [(c["name"], c["version"], properties(c)["snakepacker:python:site"])
                 for c in doc["components"] if c["purl"].startswith("pkg:pypi/sptool@")]
        assert tools == [("SPTool", "1.2", site)]
    finally:
        docker("image", "rm", "--force", "sptest-supply-venv:pytest", check=False)


def test_sbom_of_a_missing_image_is_one_line(engine: object) -> None:
    proc = snakepacker("sbom", "sptest-supply-no-such-image:x")
    assert proc.returncode == 3
    assert proc.stderr.startswith("snakepacker: error: no image sptest-supply-no-such-image:x")
    assert len(proc.stderr.splitlines()) == 1


def labels(docker: Docker, image: str) -> dict[str, str]:
    out = docker("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout
    return json.loads(out)


def image_id(docker: Docker, image: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def test_provenance_labels_name_the_parent_by_id(
        supply_family: dict[str, str], packed_demo: str, docker: Docker) -> None:
    parents = {"3.12": "base", "all": "base", "3.12-pillow": "3.12", "all-pillow": "all"}
    for tag, parent in parents.items():
        found = labels(docker, supply_family[tag])
        assert found["io.snakepacker.parent"] == image_id(docker, supply_family[parent]), tag
        assert found["org.opencontainers.image.base.digest"] == found["io.snakepacker.parent"]
        assert found["org.opencontainers.image.base.name"] == supply_family[parent]
        assert found["org.opencontainers.image.created"].endswith("Z")
        build = json.loads(found["io.snakepacker.build"])
        assert build["distro"] == "jammy" and build["grade"] == "quick"
    base = labels(docker, supply_family["base"])
    assert base["org.opencontainers.image.base.name"] == "snakepacker/root:jammy"
    assert base["io.snakepacker.parent"] == image_id(docker, "snakepacker/root:jammy")
    py = json.loads(labels(docker, supply_family["3.12"])["io.snakepacker.build"])
    assert py["cpython"] == [{"minor": "3.12", "route": "source", "version": "3.12.3",
                              "tarball": find_release("3.12.3").file,
                              "sha256": find_release("3.12.3").sha256}]
    demo = labels(docker, packed_demo)
    assert demo["io.snakepacker.parent"] == image_id(docker, supply_family["3.12"])
    # The app's record states the grade its 3.12 parent was built with.
    assert json.loads(demo["io.snakepacker.build"])["grade"] == py["grade"] == "quick"
    assert demo["org.opencontainers.image.base.name"] == supply_family["3.12"]


def test_created_honours_source_date_epoch(supply_family: dict[str, str],
                                           docker: Docker) -> None:
    """Only the last LABEL changes: the layers are the cached ones."""
    before = docker("image", "inspect", "--format", "{{json .RootFS.Layers}}",
                    supply_family["base"]).stdout
    proc = subprocess.run(
        [sys.executable, "-m", "snakepacker", "images", "build", "base", *FAMILY_ARGS,
         *SCRATCH], capture_output=True, text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "86400"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    try:
        built = labels(docker, ref("base"))
        assert built["org.opencontainers.image.created"] == "1970-01-02T00:00:00Z"
        # The engine labelled it with the digest of the Dockerfile `images dockerfile`
        # prints, which its provenance names.
        shown = snakepacker("images", "dockerfile", "base", *FAMILY_ARGS, *SCRATCH)
        assert shown.returncode == 0, shown.stderr
        digest = hashlib.sha256(shown.stdout.encode()).hexdigest()
        assert built[DOCKERFILE_LABEL] == f"sha256:{digest}"
        after = docker("image", "inspect", "--format", "{{json .RootFS.Layers}}",
                       ref("base")).stdout
        assert after == before
    finally:
        docker("image", "rm", "--force", *scratch_names(), check=False)


# -- reproducible builds --------------------------------------------------------------


def test_base_built_twice_without_cache_has_the_same_files(
        supply_family: dict[str, str], docker: Docker, tmp_path: Path) -> None:
    tags = []
    for number in (1, 2):
        proc = snakepacker("images", "build", "base", "--no-cache", *FAMILY_ARGS, *SCRATCH)
        assert proc.returncode == 0, proc.stderr[-3000:]
        tag = f"sptest-supply-repro{number}:pytest"
        docker("tag", ref("base"), tag)
        tags.append(tag)
    try:
        same = snakepacker("images", "diff", *tags)
        assert same.returncode == 0, same.stdout[-3000:]
        assert same.stdout == ""
        assert "no difference" in same.stderr

        # One real difference, and only that one, is reported.
        (tmp_path / "Dockerfile").write_text(
            f"FROM {tags[0]}\nRUN echo extra > /etc/sptest-extra && chmod 600 /etc/sptest-extra\n")
        docker.build(str(tmp_path), "-t", "sptest-supply-extra:pytest")
        tags.append("sptest-supply-extra:pytest")
        different = snakepacker("images", "diff", tags[1], tags[2])
        assert different.returncode == 1
        assert different.stdout.splitlines() == ["+ /etc/sptest-extra  (file 0600 0:0 6 bytes)"]
        reverse = snakepacker("images", "diff", tags[2], tags[1])
        assert reverse.stdout.splitlines() == ["- /etc/sptest-extra  (file 0600 0:0 6 bytes)"]
    finally:
        docker("image", "rm", "--force", *tags, *scratch_names(), check=False)


def test_a_library_installed_twice_without_cache_gives_the_same_files(
        supply_family: dict[str, str], docker: Docker, tmp_path: Path) -> None:
    """apt-install leaves nothing of the build's time behind (logs, ldconfig's
    auxiliary cache, debconf and dpkg backups)."""
    (tmp_path / "Dockerfile").write_text(f"FROM {supply_family['base']}\n"
                                         "RUN apt-install libpq5\n")
    tags = [f"sptest-supply-libpq{number}:pytest" for number in (1, 2)]
    try:
        for tag in tags:
            docker.build(str(tmp_path), "--no-cache", "-t", tag)
        proc = snakepacker("images", "diff", *tags)
        assert proc.returncode == 0, proc.stdout[-3000:]
    finally:
        docker("image", "rm", "--force", *tags, check=False)


def test_diff_names_changed_content_mode_and_owner(
        supply_family: dict[str, str], docker: Docker, tmp_path: Path) -> None:
    base = supply_family["base"]
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base}\n"
        "RUN echo changed >> /etc/hostname.sptest || true; "
        "chmod 0600 /etc/timezone; chown 1:1 /etc/debian_version; "
        "echo x >> /etc/environment\n")
    docker.build(str(tmp_path), "-t", "sptest-supply-changed:pytest")
    try:
        proc = snakepacker("images", "diff", base, "sptest-supply-changed:pytest")
        assert proc.returncode == 1
        lines = proc.stdout.splitlines()
        assert "~ /etc/timezone  mode 0644 -> 0600" in lines
        assert "~ /etc/debian_version  owner 0:0 -> 1:1" in lines
        assert any(line.startswith("~ /etc/environment  content (") for line in lines)
        assert any(line.startswith("+ /etc/hostname.sptest  (file 0644") for line in lines)
        assert len(lines) == 4, lines
    finally:
        docker("image", "rm", "--force", "sptest-supply-changed:pytest", check=False)


def test_diff_of_a_missing_image_is_one_line(supply_family: dict[str, str]) -> None:
    proc = snakepacker("images", "diff", supply_family["base"], "sptest-supply-none:x")
    assert proc.returncode == 3
    assert len(proc.stderr.splitlines()) == 1
