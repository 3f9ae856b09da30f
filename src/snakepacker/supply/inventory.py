"""What an image is made of, read from its own files.

An SBOM is only worth something when it describes what is in the image, not what
snakepacker meant to put there. This module reads the records the image carries: dpkg's
status database, the ``*.dist-info``/``*.egg-info`` metadata of every Python
distribution, the JSON record a source-built CPython leaves in
/usr/share/snakepacker, /etc/os-release, and what ``pack`` wrote about the project.
Pure functions over paths and bytes: the engine is no concern here (imagefs.py exports
an image's files, sbom.py writes the documents).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from snakepacker.family.cpython import minor_key

DPKG_STATUS = "var/lib/dpkg/status"
# A status fragment per package, in images without dpkg (pack --distroless, distroless).
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
CPYTHON_RECORDS = "usr/share/snakepacker/"  # cpython-X.Y.json, written by the build
CPYTHON_RECORD = re.compile(r"^usr/share/snakepacker/cpython-(\d+\.\d+t?)\.json$")
PACK_DISTS = "usr/share/snakepacker/pack/dists.txt"  # the packed project: "name version"
# Interpreters: a real file (not a link) named pythonX.Y in one of these folders.
# A free-threaded build's prefix also holds python3.13 (a hard link to python3.13t).
INTERPRETER = re.compile(
    r"^(?:usr/bin|usr/local/bin|opt/python/(?P<prefix>\d+\.\d+t?)/bin)/python(\d+\.\d+t?)$")
# Distribution metadata: NAME.dist-info/METADATA, NAME.egg-info/PKG-INFO or NAME.egg-info.
DIST_METADATA = re.compile(
    r"^(?P<site>.+/(?:site|dist)-packages)/[^/]+"
    r"(?:\.dist-info/METADATA|\.egg-info/PKG-INFO|\.egg-info)$"
)


def wanted(path: str) -> bool:
    """Whether an image file is one this module reads (so the exporter keeps its bytes)."""
    return (
        path in (DPKG_STATUS, PACK_DISTS, *OS_RELEASE)
        or _status_fragment(path)
        or bool(CPYTHON_RECORD.match(path))
        or bool(DIST_METADATA.match(path))
        or path.endswith("/pyvenv.cfg")
    )


# -- where to look ----------------------------------------------------------------------
# Reading only the places these records live costs a fraction of exporting the whole
# file system (on `all`, most of it is compilers and shared libraries). First the fixed
# places and the pyvenv.cfg of each likely virtualenv; then what those name: the
# interpreters dpkg and the CPython records say are there, and the libraries of the
# virtualenvs found.
FIXED_PLACES = (
    "/var/lib/dpkg",  # status, or status.d (distroless); one copy is cheaper than two
    *("/" + p for p in OS_RELEASE), "/" + CPYTHON_RECORDS.rstrip("/"),
    "/usr/lib/python3",  # the distro's dist-packages
    "/usr/local",  # pip outside a virtualenv, and its bin folder
)
INSTALLER_VENV = "/opt/snakepacker/installer"  # `all`'s pip, uv and build
_SYSTEM_BIN = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def venv_candidates(labels: Mapping[str, str], env: Iterable[str]) -> tuple[str, ...]:
    """Folders that may hold a virtualenv, by the image's configuration: the venv a
    packed image names, $VIRTUAL_ENV, and the parent of each non-system bin folder on
    $PATH (how a Dockerfile puts a venv first)."""
    found = [INSTALLER_VENV]
    if labels.get("io.snakepacker.venv"):
        found.append(labels["io.snakepacker.venv"])
    for item in env:
        name, _, value = item.partition("=")
        if name == "VIRTUAL_ENV" and value.startswith("/"):
            found.append(value)
        elif name == "PATH":
            found += [posixpath.dirname(d.rstrip("/")) for d in value.split(":")
                      if d.startswith("/") and d.rstrip("/").endswith("/bin")
                      and d.rstrip("/") not in _SYSTEM_BIN]
    return tuple(dict.fromkeys(posixpath.normpath(v) for v in found if v != "/"))


def first_places(labels: Mapping[str, str], env: Iterable[str]) -> tuple[str, ...]:
    return (*FIXED_PLACES, *(f"{venv}/pyvenv.cfg" for venv in venv_candidates(labels, env)))


def second_places(files: Mapping[str, bytes]) -> tuple[str, ...]:
    """What the files of the first places name: each source-built CPython's
    interpreter and site-packages (its record), each packaged interpreter (dpkg), and
    the libraries of each virtualenv found."""
    places = []
    for minor, record in _records(files).items():
        prefix = record.get("prefix") or f"/opt/python/{minor}"
        places += [f"{prefix}/bin/python{minor}", f"{prefix}/lib/python{minor}/site-packages"]
    for package in installed_packages(files):
        match = re.match(r"^python(\d+\.\d+)(?:-minimal)?$", package.name)
        if match:
            places.append(f"/usr/bin/python{match.group(1)}")
    places += ["/" + posixpath.dirname(p) + "/lib" for p in files if p.endswith("/pyvenv.cfg")]
    return tuple(dict.fromkeys(places))


def _status_fragment(path: str) -> bool:
    return path.startswith(DPKG_STATUS_D) and "/" not in path[len(DPKG_STATUS_D):] \
        and not path.endswith(".md5sums")


# -- the distro -----------------------------------------------------------------------


@dataclass(frozen=True)
class OsRelease:
    id: str  # ubuntu, debian
    version_id: str  # 22.04, 12 ("" on testing/unstable)
    codename: str  # jammy, bookworm
    pretty_name: str

    @property
    def purl_distro(self) -> str:
        """The ``distro`` qualifier of a deb package URL: ubuntu-22.04, debian-12."""
        return f"{self.id}-{self.version_id}" if self.version_id else f"{self.id}-{self.codename}"


def parse_os_release(text: str) -> OsRelease:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            fields[key.strip()] = value.strip().strip('"').strip("'")
    return OsRelease(
        id=fields.get("ID", "linux"),
        version_id=fields.get("VERSION_ID", ""),
        codename=fields.get("VERSION_CODENAME", ""),
        pretty_name=fields.get("PRETTY_NAME", fields.get("ID", "linux")),
    )


# -- dpkg -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    architecture: str
    source: str  # the source package (the binary's own name when the status has none)
    source_version: str
    maintainer: str = ""
    homepage: str = ""
    description: str = ""  # the synopsis line
    installed_size: int = 0  # bytes, as dpkg estimates them (its Installed-Size, in KiB)

    @property
    def upstream_version(self) -> str:
        """The version without epoch and Debian revision: 1:3.10.12-1~22.04 -> 3.10.12."""
        version = self.version.split(":", 1)[-1]
        return version.rsplit("-", 1)[0] if "-" in version else version


def _stanzas(text: str) -> Iterable[dict[str, str]]:
    """RFC 822 stanzas of a dpkg database: Field: value, continuation lines indented."""
    fields: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, last = {}, ""
        elif line[0] in " \t":
            if last:
                fields[last] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            last = key.strip()
            fields[last] = value.strip()
    if fields:
        yield fields


def parse_dpkg_status(text: str) -> tuple[DebPackage, ...]:
    """The installed packages of a dpkg status file, sorted by name and architecture.
    Packages only half there (removed with their configuration kept, half-configured)
    are not installed software and are left out."""
    packages = []
    for fields in _stanzas(text):
        status = fields.get("Status", "").split()
        if len(status) != 3 or status[2] != "installed" or "Package" not in fields:
            continue
        version = fields.get("Version", "")
        source, source_version = fields["Package"], version
        if fields.get("Source"):
            words = fields["Source"].split()
            source = words[0]
            if len(words) > 1:
                source_version = words[1].strip("()")
        packages.append(DebPackage(
            name=fields["Package"],
            version=version,
            architecture=fields.get("Architecture", ""),
            source=source,
            source_version=source_version,
            maintainer=fields.get("Maintainer", ""),
            homepage=fields.get("Homepage", ""),
            description=fields.get("Description", "").split("\n", 1)[0],
            installed_size=_kib(fields.get("Installed-Size", "")),
        ))
    return tuple(sorted(packages, key=lambda p: (p.name, p.architecture)))


def _kib(text: str) -> int:
    return int(text) * 1024 if text.strip().isdigit() else 0


# -- Python distributions --------------------------------------------------------------


@dataclass(frozen=True)
class PyDist:
    name: str
    version: str
    license: str  # an SPDX expression or the project's words; "" when it says nothing
    site: str  # the site-packages folder it is installed in (no leading slash)
    summary: str = ""
    homepage: str = ""

    @property
    def normalized(self) -> str:
        return canonicalize_name(self.name)



_LICENSE_CLASSIFIER = "License :: "


def parse_metadata(text: str, site: str) -> PyDist | None:
    """One distribution from its core metadata (METADATA or PKG-INFO); None without a
    name or version."""
    message = email.parser.Parser(policy=email.policy.compat32).parsestr(text, headersonly=True)
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        return None
    homepage = message.get("Home-page") or ""
    for url in message.get_all("Project-URL") or ():
        label, _, link = str(url).partition(",")
        if not homepage and label.strip().lower() in ("homepage", "home", "source"):
            homepage = link.strip()
    return PyDist(
        name=str(name).strip(),
        version=str(version).strip(),
        license=_license(message),
        site=site,
        summary=str(message.get("Summary") or "").strip(),
        homepage=homepage.strip(),
    )


def _license(message: email.message.Message) -> str:
    """License-Expression (PEP 639), else a short License field, else the licence
    classifiers' names joined with AND."""
    expression = str(message.get("License-Expression") or "").strip()
    if expression:
        return expression
    text = str(message.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80 and text.upper() != "UNKNOWN":
        return text
    names = [str(c).split(" :: ")[-1] for c in message.get_all("Classifier") or ()
             if str(c).startswith(_LICENSE_CLASSIFIER) and str(c).count("::") >= 2]
    return " AND ".join(dict.fromkeys(names))


# -- CPython ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interpreter:
    minor: str
    version: str  # exact: 3.12.3
    executable: str  # absolute path
    route: str  # "source", or "package" (a distro or PPA package)
    package: DebPackage | None = None  # the package that carries it (package route)
    tarball: str = ""  # source route: the tarball's file name,
    origin: str = ""  # where it came from (python.org, or an archive suite and pool path),
    sha256: str = ""  # its digest, computed in the build,
    configure: str = ""  # the flags ./configure was given (the build sysconfig describes)
    interpreter_configure: str = ""  # and those of the build that made the interpreter
    grade: str = ""  # quick or release (PGO + LTO)


def parse_cpython_record(text: str) -> dict[str, str]:
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("a CPython record is a JSON object")
    return {str(k): str(v) for k, v in record.items()}


def interpreters(
    paths: Iterable[str],
    records: Mapping[str, Mapping[str, str]],
    packages: Iterable[DebPackage],
) -> tuple[Interpreter, ...]:
    """Every CPython of the image, by the real pythonX.Y executables it holds. RECORDS
    (minor -> record) describe source builds; the others come from a package named
    pythonX.Y-minimal (or pythonX.Y)."""
    by_name = {p.name: p for p in packages}
    found: dict[str, Interpreter] = {}
    for path in sorted(paths):
        match = INTERPRETER.match(path)
        if not match or match["prefix"] not in (None, match.group(2)):
            continue
        minor = match.group(2)
        record = records.get(minor)
        if record and path.startswith(record.get("prefix", "opt/python/").lstrip("/")):
            found[minor] = Interpreter(
                minor=minor, version=record.get("version", minor),
                executable="/" + path, route="source",
                tarball=record.get("tarball", ""), origin=record.get("origin", ""),
                sha256=record.get("sha256", ""), configure=record.get("configure", ""),
                interpreter_configure=record.get("interpreter_configure", ""),
                grade=record.get("grade", ""),
            )
            continue
        if minor in found:
            continue
        package = by_name.get(f"python{minor}-minimal") or by_name.get(f"python{minor}")
        if package and path.startswith("usr/bin/"):
            found[minor] = Interpreter(minor=minor, version=package.upstream_version,
                                       executable="/" + path, route="package",
                                       package=package)
        elif path.startswith("opt/python/"):
            # Built from source by an older snakepacker, which kept no record: the
            # minor is all the image says.
            found[minor] = Interpreter(minor=minor, version=minor, executable="/" + path,
                                       route="source")
    return tuple(sorted(found.values(), key=lambda i: minor_key(i.minor)))


# -- the whole image -------------------------------------------------------------------


def _text(files: Mapping[str, bytes], path: str) -> str:
    return files[path].decode("utf-8", "replace")


def installed_packages(files: Mapping[str, bytes]) -> tuple[DebPackage, ...]:
    """The installed packages of an image's dpkg status, or its status.d fragments."""
    status = [_text(files, DPKG_STATUS)] if DPKG_STATUS in files else []
    status += [_text(files, p) for p in sorted(files) if _status_fragment(p)]
    return parse_dpkg_status("\n\n".join(status)) if status else ()


def _records(files: Mapping[str, bytes]) -> dict[str, dict[str, str]]:
    """minor -> the record a source-built CPython left."""
    records = {}
    for path in files:
        match = CPYTHON_RECORD.match(path)
        if match:
            records[match.group(1)] = parse_cpython_record(_text(files, path))
    return records


@dataclass(frozen=True)
class Inventory:
    os: OsRelease
    packages: tuple[DebPackage, ...]
    interpreters: tuple[Interpreter, ...]
    dists: tuple[PyDist, ...]
    venvs: tuple[str, ...]  # roots of the virtualenvs (folders with a pyvenv.cfg)
    project: tuple[str, str] | None = None  # a packed app: (name, version)
    labels: Mapping[str, str] = field(default_factory=dict)


def inventory(files: Mapping[str, bytes], paths: Iterable[str],
              labels: Mapping[str, str] | None = None) -> Inventory:
    """The inventory of an image from the bytes of its wanted files (see ``wanted``)
    and the list of all its regular files."""
    def text(path: str) -> str:
        return _text(files, path)

    os_release = next((parse_os_release(text(p)) for p in OS_RELEASE if p in files),
                      OsRelease("linux", "", "", "Linux"))
    packages = installed_packages(files)
    records = _records(files)
    dists: dict[tuple[str, str], PyDist] = {}
    for path in sorted(files):
        match = DIST_METADATA.match(path)
        if match:
            dist = parse_metadata(text(path), match.group("site"))
            if dist is not None:
                dists.setdefault((dist.site, dist.normalized), dist)
    venvs = tuple(sorted(posixpath.dirname(p) for p in files if p.endswith("/pyvenv.cfg")))
    project = None
    if PACK_DISTS in files:
        words = text(PACK_DISTS).split()
        if len(words) >= 2:
            project = (words[0], words[1])
    return Inventory(
        os=os_release,
        packages=packages,
        interpreters=interpreters(paths, records, packages),
        dists=tuple(sorted(dists.values(), key=lambda d: (d.site, d.normalized))),
        venvs=venvs,
        project=project,
        labels=dict(labels or {}),
    )
