"""The supply-chain pieces without an engine: the tar reader on real tar streams, the
diff of two file lists, the provenance values and the SBOM documents (checked against
the formats' schemas) of a synthetic inventory."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from snakepacker import vcs
from snakepacker.family import labels
from snakepacker.family.cpython import PythonSpec, Route, find_release
from snakepacker.family.labels import CREATED_ARG, PARENT_ARG
from snakepacker.images.build import label_args
from snakepacker.supply import sbom
from snakepacker.supply.imagediff import diff_entries
from snakepacker.supply.imagefs import Entry, read_tar
from snakepacker.supply.inventory import inventory
from tests.unit.test_inventory import METADATA, STATUS, _record


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]],
         fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, uid: int = 0,
          link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.linkname = kind, mode, uid, uid, link
    return info


LONG = "usr/lib/" + "deep/" * 40 + "file.txt"  # past ustar's 100 + 155 characters


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_tar_reader_records_every_kind(fmt: int) -> None:
    members = [
        (_info("./etc", tarfile.DIRTYPE, 0o755), None),
        (_info("etc/passwd", mode=0o644), b"root:x:0:0\n"),
        (_info("etc/shadow", mode=0o640, uid=42), b"root:*:19000::::::\n"),
        (_info("usr/bin/python3", tarfile.SYMTYPE, 0o777, link="python3.12"), None),
        (_info("usr/bin/again", tarfile.LNKTYPE, link="etc/passwd"), None),
        (_info("dev/null", tarfile.CHRTYPE, 0o666), None),
        (_info(".dockerenv", mode=0o755), b""),
        (_info("var/lib/dpkg/status"), STATUS.encode()),
        (_info("big.bin", mode=0o4755), bytes(range(256)) * 5000),
    ]
    if fmt != tarfile.USTAR_FORMAT:
        members.append((_info(LONG), b"deep"))
    members[5][0].devmajor, members[5][0].devminor = 1, 3
    snap = read_tar(io.BytesIO(_tar(members, fmt)), keep=lambda p: p.endswith("status"),
                    hash_files=True)
    entries = snap.entries
    assert entries["etc"].kind == "dir" and entries["etc"].mode_text == "0755"
    assert entries["etc/shadow"].uid == 42 and entries["etc/shadow"].mode_text == "0640"
    assert entries["usr/bin/python3"].target == "python3.12"
    assert entries["usr/bin/again"].kind == "file"
    assert entries["usr/bin/again"].sha256 == entries["etc/passwd"].sha256 != ""
    assert entries["dev/null"].device == "1,3"
    assert entries[".dockerenv"].size == 0
    assert entries["big.bin"].size == 256 * 5000 and entries["big.bin"].mode_text == "4755"
    assert snap.files == {"var/lib/dpkg/status": STATUS.encode()}
    if fmt != tarfile.USTAR_FORMAT:
        assert entries[LONG].size == 4


def test_diff_of_two_file_lists() -> None:
    def entry(path: str, **kw: object) -> Entry:
        base = {"kind": "file", "mode": 0o644, "uid": 0, "gid": 0, "size": 3, "sha256": "a"}
        base.update(kw)
        return Entry(path, **base)  # type: ignore[arg-type]

    old = {e.path: e for e in [entry("same"), entry("gone"), entry("content"),
                               entry("mode"), entry("link", kind="symlink", target="x"),
                               entry("owner")]}
    new = {e.path: e for e in [entry("same"), entry("new"), entry("content", sha256="b"),
                               entry("mode", mode=0o755),
                               entry("link", kind="symlink", target="y"),
                               entry("owner", uid=1000, gid=1000)]}
    diff = diff_entries(old, new)
    assert [e.path for e in diff.added] == ["new"]
    assert [e.path for e in diff.removed] == ["gone"]
    changed = {c.path: c.what for c in diff.changed}
    assert set(changed) == {"content", "mode", "link", "owner"}
    assert changed["mode"] == ("mode 0644 -> 0755",)
    assert changed["owner"] == ("owner 0:0 -> 1000:1000",)
    assert changed["link"] == ("target x -> y",)
    assert changed["content"][0].startswith("content (sha256 a")
    lines = list(diff.lines())
    assert [line[:3] for line in lines] == ["~ /", "- /", "~ /", "~ /", "+ /", "~ /"]
    assert diff.summary() == "1 added, 1 removed, 4 changed"
    assert diff_entries(old, old).equal


def test_created_honours_source_date_epoch(tmp_path: Path) -> None:
    commit = vcs.head_commit(tmp_path)  # not a git checkout
    assert commit is None
    assert vcs.source_date_epoch(commit, env={"SOURCE_DATE_EPOCH": "1700000000"}) == 1700000000
    assert vcs.source_date_epoch(commit, env={}) == 0
    assert vcs.rfc3339(0) == "1970-01-01T00:00:00Z"
    args = label_args("sha256:abc", env={"SOURCE_DATE_EPOCH": "86400"})
    assert args[CREATED_ARG] == "1970-01-02T00:00:00Z"
    assert args[PARENT_ARG] == "sha256:abc"


def test_build_record_names_the_tarball_and_its_sha256() -> None:
    release = find_release("3.12.3")
    pythons = [PythonSpec("3.10", Route.DISTRO), PythonSpec("3.12", Route.SOURCE, release)]
    record = json.loads(labels.build_record("jammy", pythons, "quick"))
    assert record == {"distro": "jammy", "grade": "quick", "cpython": [
        {"minor": "3.10", "route": "distro"},
        {"minor": "3.12", "route": "source", "version": "3.12.3", "tarball": release.file,
         "sha256": release.sha256}]}
    written = labels.oci_labels([("t", 'a"b$c\\'), ("v", None)], "base", "{}")
    assert written["t"] == '"a\\"b\\$c\\\\"' and "v" not in written
    assert written["io.snakepacker.parent"] == '"${SNAKEPACKER_PARENT}"'  # a reference


def _subject_and_inventory() -> tuple[sbom.Subject, object]:
    site = "usr/share/python3/app/lib/python3.12/site-packages"
    files = {
        "var/lib/dpkg/status": STATUS.encode(),
        "etc/os-release": b"ID=ubuntu\nVERSION_ID=22.04\nVERSION_CODENAME=jammy\n"
                          b"PRETTY_NAME=\"Ubuntu 22.04 LTS\"\n",
        "usr/share/snakepacker/cpython-3.12.json": _record("3.12", "3.12.3"),
        f"{site}/Demo_App-1.2.3.dist-info/METADATA": METADATA.encode(),
        f"{site}/odd-2.dist-info/METADATA": b"Name: odd\nVersion: 2\nLicense: BSD\n",
        "usr/share/python3/app/pyvenv.cfg": b"home = /opt/python/3.12/bin\n",
        "usr/share/snakepacker/pack/dists.txt": b"demo-app 1.2.3\n",
    }
    paths = [*files, "opt/python/3.12/bin/python3.12", "usr/bin/python3.10"]
    labels = {"org.opencontainers.image.title": "demo"}
    subject = sbom.Subject("demo:latest", "sha256:" + "1" * 64,
                           datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), labels)
    return subject, inventory(files, paths, labels)


def test_cyclonedx_document_is_valid_and_complete() -> None:
    subject, inv = _subject_and_inventory()
    text = sbom.document(subject, inv, sbom.Format.CYCLONEDX)  # type: ignore[arg-type]
    assert sbom.validate_cyclonedx(text) == []
    doc = json.loads(text)
    purls = {c["purl"] for c in doc["components"]}
    assert "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.8?arch=amd64&distro=ubuntu-22.04&upstream=glibc" \
        in purls
    assert "pkg:deb/ubuntu/epoch@1:4.2-3?arch=arm64&distro=ubuntu-22.04" in purls
    assert "pkg:pypi/demo-app@1.2.3" in purls
    assert f"pkg:generic/cpython@3.12.3?checksum=sha256:{'ab' * 32}" in purls
    by_name = {c["name"]: c for c in doc["components"]}
    assert by_name["Demo_App"]["type"] == "application"  # the packed project
    assert by_name["Demo_App"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert by_name["odd"]["type"] == "library"
    assert doc["metadata"]["component"]["type"] == "container"
    assert doc["metadata"]["timestamp"].startswith("2026-01-02T03:04:05")
    # The same image gives the same bytes.
    assert sbom.document(subject, inv, sbom.Format.CYCLONEDX) == text  # type: ignore[arg-type]


def test_spdx_document_is_valid_and_complete() -> None:
    subject, inv = _subject_and_inventory()
    text = sbom.document(subject, inv, sbom.Format.SPDX)  # type: ignore[arg-type]
    assert sbom.validate_spdx(text) == []
    doc = json.loads(text)
    assert doc["spdxVersion"] == "SPDX-2.3"
    packages = {p["name"]: p for p in doc["packages"]}
    assert packages["Demo_App"]["licenseDeclared"] == "MIT OR Apache-2.0"
    assert packages["odd"]["licenseDeclared"] == "NOASSERTION"  # "BSD" is no SPDX id
    assert "declared as: BSD" in packages["odd"]["licenseComments"]
    refs = {r["referenceLocator"] for p in doc["packages"] for r in p.get("externalRefs", [])}
    assert "pkg:pypi/odd@2" in refs
    contains = [r for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"]
    assert len(contains) == len(doc["packages"]) - 1


def test_unknown_format_is_a_usage_error() -> None:
    from snakepacker.errors import UsageError

    with pytest.raises(UsageError, match="unknown SBOM format 'xml'"):
        sbom.check_format("xml")


def test_the_format_option_reads_to_a_known_format() -> None:
    """What `sbom` does with the option: unset, it makes CycloneDX; the environment and
    the command line choose another; every format the help names is one it makes."""
    from snakepacker import options as opts

    def chosen(cli: dict[str, str], env: dict[str, str]) -> sbom.Format:
        return sbom.check_format(opts.read(opts.SBOM, cli, env=env)["format"])

    assert chosen({}, {}) is sbom.Format.CYCLONEDX
    assert chosen({}, {"SNAKEPACKER_FORMAT": "spdx"}) is sbom.Format.SPDX
    assert chosen({"format": "cyclonedx"}, {"SNAKEPACKER_FORMAT": "spdx"}) \
        is sbom.Format.CYCLONEDX
    named = [word for word in sbom.FORMATS if word in opts.BY_NAME["format"].help]
    assert [sbom.check_format(word) for word in named] == list(sbom.Format)


def _family_dockerfiles() -> list[tuple[str, str]]:
    from snakepacker.family.images import Family, ImageKind
    from snakepacker.images.render import render_image
    from snakepacker.options import family_from

    out = []
    for distro in ("jammy", "bookworm"):
        family = Family(family_from({"distro": distro}))
        for image in family:
            if image.kind is not ImageKind.APP:
                out.append((f"{distro}/{image.name}", render_image(family, image).dockerfile))
    return out


@pytest.mark.parametrize(("name", "dockerfile"), _family_dockerfiles())
def test_provenance_comes_last_in_every_family_dockerfile(name: str, dockerfile: str) -> None:
    """Labels that change every build sit after every step that makes a layer, so they
    never cost a cached step."""
    lines = [line for line in dockerfile.splitlines() if line and not line.startswith(" ")]
    first_arg = next(i for i, line in enumerate(lines)
                     if line.startswith(f"ARG {CREATED_ARG}"))
    tail = [line.split()[0] for line in lines[first_arg:] if not line.startswith("#")]
    assert tail == ["ARG", "ARG", "ARG", "LABEL"], name
    for key in ("org.opencontainers.image.created", "org.opencontainers.image.revision",
                "org.opencontainers.image.base.digest", "org.opencontainers.image.base.name",
                "org.opencontainers.image.version",
                "io.snakepacker.parent", "io.snakepacker.build"):
        assert key in dockerfile, (name, key)


def test_revision_and_created_follow_the_inputs_not_head(tmp_path: Path) -> None:
    """A commit elsewhere in the tree leaves the labels (and so children's caches) alone."""
    import subprocess

    def git(*args: str, when: str = "") -> str:
        env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path),
               **({"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when} if when else {})}
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, env=env,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "family").mkdir()
    (tmp_path / "family" / "data.tsv").write_text("x\n")
    git("add", ".")
    git("commit", "-qm", "family", when="@1000000000 +0000")
    first = git("rev-parse", "HEAD")
    (tmp_path / "README").write_text("docs\n")
    git("add", ".")
    git("commit", "-qm", "docs", when="@2000000000 +0000")
    family = vcs.last_commit(tmp_path, ("family",))
    assert family is not None and family.sha == first
    assert vcs.source_date_epoch(family, env={}) == 1000000000
    head = vcs.head_commit(tmp_path)
    assert head is not None and head.sha == git("rev-parse", "HEAD") != first
    assert head.time == 2000000000
