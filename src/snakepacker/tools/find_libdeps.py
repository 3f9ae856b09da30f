#!/bin/sh
"""true"
# This block is shell for /bin/sh and the module docstring for Python.
# The shell part looks for a Python interpreter (the image may have none on
# PATH) and runs this same file with it, isolated from the environment and
# without site-packages: the tools need nothing but the standard library.
for v in 3 3.14 3.13 3.12 3.11 3.10 3.9 3.8 3.7; do
    if command -v "python$v" >/dev/null 2>&1; then exec "python$v" -I -S "$0" "$@"; fi
done
for minor in 14 13 12 11 10 9 8 7; do
    for py in /opt/python/3."$minor"/bin/python3 /opt/python/3."$minor".*/bin/python3; do
        if [ -x "$py" ]; then exec "$py" -I -S "$0" "$@"; fi
    done
done
if [ -x /usr/share/python3/app/bin/python ]; then
    exec /usr/share/python3/app/bin/python -I -S "$0" "$@"
fi
echo "find-libdeps: no Python interpreter found in this image" >&2
exit 127
"""

from __future__ import annotations

# find-libdeps: list the Debian packages that the ELF files under some
# directories need at run time.  Standard library only; runs unchanged on
# CPython 3.7+.  It never runs the files it looks at (unlike ldd): a small ELF
# reader takes DT_NEEDED, DT_RPATH, DT_RUNPATH and DT_SONAME from the dynamic
# section, each soname is looked up the way the dynamic loader does it, and the
# library found is mapped to its package with the dpkg database, read directly.
import os
import stat
import struct
import sys

# typing is only needed by type checkers: not importing it saves start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple

    # (class, data encoding, machine): what a library must match to be loadable.
    ElfKind = Tuple[int, int, int]

PROG = "find-libdeps"
EXIT_MISSING = 1
EXIT_USAGE = 2

DPKG_INFO = "/var/lib/dpkg/info"
DPKG_DIVERSIONS = "/var/lib/dpkg/diversions"
LD_SO_CONF = "/etc/ld.so.conf"

DESCRIPTION = """\
Print the Debian packages whose shared libraries the ELF files under DIR need,
sorted, one per line: the packages to apt-install so that the files can run.

Every regular file under each DIR is looked at, whatever its name (extension
modules, .so.N libraries, executables); symbolic links are not followed.  The
libraries each file needs are found as the dynamic loader finds them: RPATH
(only when there is no RUNPATH) and RUNPATH with $ORIGIN, $LIB and $PLATFORM
expanded, then /etc/ld.so.conf, then the multiarch and default directories
(LD_LIBRARY_PATH is ignored).  A library found inside one of the DIRs, or one
whose name a file inside the DIRs has (the vendored *.libs of manylinux
wheels), is no system dependency.  Only direct dependencies are listed, as
dpkg-shlibdeps does."""

EPILOG = """\
warnings (stderr, exit status stays 0):
  a library found on this system but owned by no package can not be
  apt-installed: it is named with the file that needs it and left out of the
  list; copy it into the image another way.
  a file or directory that can not be read (permission denied) is named:
  what it needs is unknown (--strict makes this an error).

notes (-v): files skipped as not ELF, as broken ELF (so are files whose
tables or strings add up to more than the file holds), or as ELF for another
machine (another architecture, word size or byte order than the Python
running find-libdeps: such files are never loaded here).

exit status:
  0    success (also with warnings)
  1    a needed library was found nowhere (the file and the soname are named
       on stderr, 10 sonames a file at most: --json lists them all;
       --ignore-missing makes this a warning), or with --strict a file or
       directory could not be read
  2    bad command line
  127  (from the shell header) no Python interpreter was found"""

# ELF constants
ELF_MAGIC = b"\x7fELF"
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2
ET_EXEC = 2
ET_DYN = 3
PT_LOAD = 1
PT_DYNAMIC = 2
PN_XNUM = 0xFFFF
DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_STRSZ = 10
DT_SONAME = 14
DT_RPATH = 15
DT_RUNPATH = 29

EM_386 = 3
EM_MIPS = 8
EM_PPC = 20
EM_PPC64 = 21
EM_S390 = 22
EM_ARM = 40
EM_X86_64 = 62
EM_AARCH64 = 183
EM_RISCV = 243
EM_LOONGARCH = 258

# Most header bytes we ever need: the 64-bit ELF header is 64 bytes long.
HEADER_SIZE = 64
# Directories that /usr-merge turns into symbolic links to their /usr twin.
MERGED_DIRS = ("/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/libo32/")


def shown(text: str) -> str:
    """text as printed in messages: control characters and undecodable bytes escaped.

    A file name may hold a newline, which would otherwise forge a line of
    output; backslashes are doubled so that the escapes stay unambiguous.
    """
    if text.isprintable() and "\\" not in text:
        return text
    parts = []
    for char in text:
        code = ord(char)
        if char in ESCAPES:
            parts.append(ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            parts.append("\\x%02x" % (code - 0xDC00))
        elif code < 0x20 or 0x7F <= code < 0xA0:
            parts.append("\\x%02x" % code)
        elif code in (0x2028, 0x2029):
            parts.append("\\u%04x" % code)
        else:
            parts.append(char)
    return "".join(parts)


ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class BadElf(Exception):
    """The file starts like ELF but can not be read as one."""


class ElfFile:
    """What find-libdeps needs to know of one ELF file."""

    __slots__ = ("kind", "needed", "path", "rpath", "runpath", "soname")

    def __init__(
        self,
        path: str,
        kind: ElfKind,
        needed: List[str],
        rpath: List[str],
        runpath: List[str],
        soname: Optional[str],
    ) -> None:
        self.path = path
        self.kind = kind
        self.needed = needed
        self.rpath = rpath
        self.runpath = runpath
        self.soname = soname


class FileReader:
    """Reads of one open file that add up to no more than the file holds.

    Offsets, sizes and counts come from the file itself and may be anything:
    no header may make find-libdeps read (nor allocate) beyond what the file
    holds, neither at one read nor all reads together (overlapping tables
    would otherwise have the same bytes read again and again).
    """

    __slots__ = ("fd", "head", "size", "unread")

    def __init__(self, fd: int, size: int, head: bytes = b"") -> None:
        self.fd = fd
        self.size = size
        # The first bytes, read already: never read again (the program
        # headers of a 32-bit file start inside them).
        self.head = head
        self.unread = size - len(head)

    def read(self, size: int, offset: int) -> bytes:
        """size bytes at offset; BadElf unless the file holds them, and holds them unread."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise BadElf("%d bytes at offset %d are beyond the end of the file" % (size, offset))
        known = self.head[offset : offset + size]
        size -= len(known)
        offset += len(known)
        if size > self.unread:
            raise BadElf("its tables add up to more bytes than the file holds")
        self.unread -= size
        data = os.pread(self.fd, size, offset) if size else b""
        if len(data) != size:
            raise BadElf("truncated (wanted %d bytes at offset %d)" % (size, offset))
        return known + data


def elf_kind(head: bytes) -> Optional[ElfKind]:
    """(class, data, machine) from the first bytes of a file, None if not ELF."""
    if len(head) < 20 or head[:4] != ELF_MAGIC:
        return None
    elf_class, data = head[4], head[5]
    if elf_class not in (ELFCLASS32, ELFCLASS64) or data not in (ELFDATA2LSB, ELFDATA2MSB):
        return None
    machine = struct.unpack_from("<H" if data == ELFDATA2LSB else ">H", head, 18)[0]
    return elf_class, data, machine


MACHINE_NAMES = {
    EM_386: "i386",
    EM_MIPS: "mips",
    EM_PPC: "powerpc",
    EM_PPC64: "ppc64",
    EM_S390: "s390",
    EM_ARM: "arm",
    EM_X86_64: "x86-64",
    EM_AARCH64: "aarch64",
    EM_RISCV: "riscv",
    EM_LOONGARCH: "loongarch",
}


def describe_kind(kind: ElfKind) -> str:
    """Say which machine an ELF kind is for, e.g. "aarch64, 64-bit, little-endian"."""
    elf_class, data, machine = kind
    return "%s, %s-bit, %s-endian" % (
        MACHINE_NAMES.get(machine, "machine %d" % machine),
        64 if elf_class == ELFCLASS64 else 32,
        "little" if data == ELFDATA2LSB else "big",
    )


def host_kind() -> Optional[ElfKind]:
    """The ELF kind of the running interpreter: the files the loader here can load.

    None when it can not be told (no /proc, an interpreter that is no ELF
    file): then no file is skipped for being made for another machine.
    """
    for path in ("/proc/self/exe", sys.executable):
        if not path:
            continue
        try:
            with open(path, "rb") as handle:
                kind = elf_kind(handle.read(HEADER_SIZE))
        except OSError:
            continue
        if kind is not None:
            return kind
    return None


class ElfHeader:
    """The fields of an ELF header that lead to the dynamic section."""

    __slots__ = ("end", "phentsize", "phnum", "phoff", "shentsize", "shoff", "type", "wide")

    def __init__(self, head: bytes, kind: ElfKind) -> None:
        """Read them from head, the first bytes of an ELF file of this kind."""
        elf_class, data, _machine = kind
        self.wide = elf_class == ELFCLASS64
        self.end = end = "<" if data == ELFDATA2LSB else ">"
        if len(head) < (64 if self.wide else 52):
            raise BadElf("truncated ELF header")
        (self.type,) = struct.unpack_from(end + "H", head, 16)
        self.phoff, self.shoff = struct.unpack_from(
            end + ("QQ" if self.wide else "II"), head, 32 if self.wide else 28
        )
        self.phentsize, self.phnum, self.shentsize = struct.unpack_from(
            end + "HHH", head, 54 if self.wide else 42
        )


class DynamicRefs:
    """What the dynamic section says: string indexes, and where the strings are."""

    __slots__ = ("needed", "rpath", "runpath", "soname", "strsz", "strtab")

    def __init__(self) -> None:
        self.needed: List[int] = []
        self.rpath: List[int] = []
        self.runpath: List[int] = []
        self.soname = -1
        self.strtab = -1
        self.strsz = 0

    def indexes(self) -> List[int]:
        """Every string index the dynamic section names."""
        soname = [self.soname] if self.soname >= 0 else []
        return self.needed + self.rpath + self.runpath + soname


def read_elf(fd: int, path: str, head: bytes, file_size: int) -> Optional[ElfFile]:
    """Parse the dynamic section of an ELF file whose first bytes are head.

    Returns None for ELF files that load no libraries (static executables,
    object files, core dumps); raises BadElf for broken ones.  Whatever the
    headers say, the reads add up to no more than file_size, and so do the
    strings taken from the string table.
    """
    kind = elf_kind(head)
    if kind is None:
        raise BadElf("unknown ELF class or data encoding")
    header = ElfHeader(head, kind)
    if header.type not in (ET_EXEC, ET_DYN):
        return None
    reader = FileReader(fd, file_size, head)
    phnum = _program_header_count(reader, header)
    if phnum == 0 or header.phoff == 0:
        return None
    loads, dynamic = _program_headers(reader, header, phnum)
    if dynamic is None:
        return None  # statically linked
    refs = _dynamic_refs(reader, header, dynamic)
    indexes = refs.indexes()
    if not indexes:
        return ElfFile(path, kind, [], [], [], None)
    if refs.strtab < 0:
        raise BadElf("dynamic section has no string table")
    base, end = _strtab_extent(loads, refs.strtab, refs.strsz, file_size)
    strings = _read_strings(StringTable(reader, base, end), indexes)
    return ElfFile(
        path,
        kind,
        [strings[i] for i in refs.needed],
        [strings[i] for i in refs.rpath],
        [strings[i] for i in refs.runpath],
        strings[refs.soname] if refs.soname >= 0 else None,
    )


def _program_header_count(reader: FileReader, header: ElfHeader) -> int:
    """The number of program headers.

    When there are more than fit in e_phnum, it says PN_XNUM and the count is
    in sh_info of section header 0.
    """
    if header.phnum != PN_XNUM:
        return header.phnum
    if header.shoff == 0 or header.shentsize < (64 if header.wide else 40):
        raise BadElf("bad extended program header count")
    section0 = reader.read(header.shentsize, header.shoff)
    return struct.unpack_from(header.end + "I", section0, 44 if header.wide else 28)[0]


def _program_headers(
    reader: FileReader, header: ElfHeader, phnum: int
) -> Tuple[List[Tuple[int, int, int]], Optional[Tuple[int, int]]]:
    """The loadable segments (vaddr, filesz, offset) and the dynamic one (offset, filesz)."""
    ph_format, ph_size = (
        (header.end + "IIQQQQQQ", 56) if header.wide else (header.end + "IIIIIIII", 32)
    )
    if header.phentsize < ph_size:
        raise BadElf("bad program header size %d" % header.phentsize)
    table = reader.read(header.phentsize * phnum, header.phoff)
    if header.phentsize == ph_size:
        headers: Iterable[Tuple[int, ...]] = struct.iter_unpack(ph_format, table)
    else:
        headers = (
            struct.unpack_from(ph_format, table, index * header.phentsize) for index in range(phnum)
        )
    loads: List[Tuple[int, int, int]] = []
    dynamic: Optional[Tuple[int, int]] = None
    for fields in headers:
        if header.wide:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = fields[:6]
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz = fields[:5]
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_filesz, p_offset))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    return loads, dynamic


def _dynamic_refs(reader: FileReader, header: ElfHeader, dynamic: Tuple[int, int]) -> DynamicRefs:
    """The entries of the dynamic section that name libraries, paths and the string table."""
    dyn_format = header.end + ("qQ" if header.wide else "iI")
    entry_size = struct.calcsize(dyn_format)
    dyn_offset, dyn_size = dynamic
    raw = reader.read(dyn_size - dyn_size % entry_size, dyn_offset)
    refs = DynamicRefs()
    for tag, value in struct.iter_unpack(dyn_format, raw):
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            refs.needed.append(value)
        elif tag == DT_STRTAB:
            refs.strtab = value
        elif tag == DT_STRSZ:
            refs.strsz = value
        elif tag == DT_RPATH:
            refs.rpath.append(value)
        elif tag == DT_RUNPATH:
            refs.runpath.append(value)
        elif tag == DT_SONAME:
            refs.soname = value
    return refs


def _strtab_extent(
    loads: List[Tuple[int, int, int]], strtab: int, strsz: int, file_size: int
) -> Tuple[int, int]:
    """Where the string table is in the file: its offset, and the offset it ends at.

    DT_STRTAB is an address in memory: the loadable segment that holds it says
    where it is in the file.  The table ends DT_STRSZ bytes further, or, if
    DT_STRSZ is missing, where the segment's bytes in the file end; never
    past the end of the file.
    """
    for vaddr, filesz, offset in loads:
        if vaddr <= strtab < vaddr + filesz:
            base = offset + (strtab - vaddr)
            end = min(offset + filesz, file_size)
            if strsz:
                end = min(end, base + strsz)
            return base, end
    raise BadElf("string table is outside every loadable segment")


# Dynamic strings less than this far apart come with one read.
STRING_SPAN = 16384
# Bytes read past the last string of a span, where it most likely ends.
STRING_SLACK = 512


class StringTable:
    """A string table read forward only, and only as far as the strings asked for.

    Strings are asked for in the order of their indexes: no byte of the table
    is read twice, however the strings overlap.  The strings taken add up to
    no more than the file holds: a few thousand indexes one byte apart in a
    long run of letters would otherwise make gigabytes of distinct strings
    out of a small file.
    """

    __slots__ = ("base", "end", "reader", "start", "text_left", "window")

    def __init__(self, reader: FileReader, base: int, end: int) -> None:
        self.reader = reader
        self.base = base
        self.end = end
        self.window = b""  # the bytes of the table read and still needed
        self.start = base  # the file offset of window[0]
        self.text_left = reader.size

    def prefetch(self, first: int, last: int) -> None:
        """Hold the bytes from index first to a little past index last, reading what is missing."""
        at = self.base + first
        if at >= self.start + len(self.window):
            self.window, self.start = b"", at  # the gap is never read
        else:
            self.window = self.window[at - self.start :]  # the strings before at are taken
            self.start = at
        self._read_to(self.base + last + STRING_SLACK)

    def _read_to(self, offset: int) -> bool:
        """Read on up to offset, never past the table's end; False if there was nothing left."""
        read_to = self.start + len(self.window)
        offset = min(offset, self.end)
        if offset <= read_to:
            return False
        self.window += self.reader.read(offset - read_to, read_to)
        return True

    def string(self, index: int) -> str:
        """The string at index, which the last prefetch covered."""
        position = self.base + index - self.start
        stop = self.window.find(b"\0", position)
        while stop < 0:
            searched = len(self.window)
            # What is held doubles: a long string takes a few reads, not one per slack.
            if not self._read_to(self.start + 2 * searched + STRING_SLACK):
                raise BadElf("unterminated string in the string table")
            stop = self.window.find(b"\0", searched)
        self.text_left -= stop - position + 1
        if self.text_left < 0:
            raise BadElf("its strings add up to more bytes than the file holds")
        return os.fsdecode(self.window[position:stop])


def _read_strings(table: StringTable, indexes: List[int]) -> Dict[int, str]:
    """The strings at indexes of table, by index, read in one pass through it."""
    ordered = sorted(set(indexes))
    if table.base + ordered[-1] >= table.end:
        if table.end < table.reader.size:
            raise BadElf("string index beyond the string table")
        raise BadElf("string table beyond the end of the file")
    result: Dict[int, str] = {}
    first = 0
    while first < len(ordered):
        last = first
        while last + 1 < len(ordered) and ordered[last + 1] - ordered[first] < STRING_SPAN:
            last += 1
        table.prefetch(ordered[first], ordered[last])
        for index in ordered[first : last + 1]:
            result[index] = table.string(index)
        first = last + 1
    return result


OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


def parse_file(path: str, host: Optional[ElfKind] = None) -> Tuple[Optional[ElfFile], str]:
    """(ElfFile, "") for a dynamic ELF file, else (None, why it was skipped).

    Raises OSError when the file can not be read: that is no reason to skip
    it quietly.
    """
    fd = os.open(path, OPEN_FLAGS)
    try:
        head = os.read(fd, HEADER_SIZE)
        if head[:4] != ELF_MAGIC:
            return None, "not ELF"
        return read_open_file(fd, path, head, host)
    finally:
        os.close(fd)


def _read_file(path: str) -> Optional[bytes]:
    """The whole content of a file, None if it can not be read."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)


def multiarch_triplets(kind: ElfKind) -> List[str]:
    """Debian multiarch directory names that may hold libraries of this kind."""
    elf_class, data, machine = kind
    little = data == ELFDATA2LSB
    wide = elf_class == ELFCLASS64
    if machine == EM_X86_64:
        return ["x86_64-linux-gnu"] if wide else ["x86_64-linux-gnux32"]
    if machine == EM_386:
        return ["i386-linux-gnu"]
    if machine == EM_AARCH64:
        return ["aarch64-linux-gnu"] if little else ["aarch64_be-linux-gnu"]
    if machine == EM_ARM:
        return ["arm-linux-gnueabihf", "arm-linux-gnueabi"]
    if machine == EM_PPC64:
        return ["powerpc64le-linux-gnu"] if little else ["powerpc64-linux-gnu"]
    if machine == EM_PPC:
        return ["powerpc-linux-gnu"]
    if machine == EM_S390:
        return ["s390x-linux-gnu"] if wide else ["s390-linux-gnu"]
    if machine == EM_RISCV:
        return ["riscv64-linux-gnu"] if wide else ["riscv32-linux-gnu"]
    if machine == EM_LOONGARCH:
        return ["loongarch64-linux-gnu"]
    if machine == EM_MIPS:
        if wide:
            return ["mips64el-linux-gnuabi64"] if little else ["mips64-linux-gnuabi64"]
        return ["mipsel-linux-gnu"] if little else ["mips-linux-gnu"]
    return []


# The Debian architecture of each multiarch triplet: the list files of
# Multi-Arch: same packages are named package:arch.list.
DPKG_ARCHES = {
    "x86_64-linux-gnu": "amd64",
    "x86_64-linux-gnux32": "x32",
    "i386-linux-gnu": "i386",
    "aarch64-linux-gnu": "arm64",
    "arm-linux-gnueabihf": "armhf",
    "arm-linux-gnueabi": "armel",
    "powerpc64le-linux-gnu": "ppc64el",
    "powerpc64-linux-gnu": "ppc64",
    "powerpc-linux-gnu": "powerpc",
    "s390x-linux-gnu": "s390x",
    "riscv64-linux-gnu": "riscv64",
    "loongarch64-linux-gnu": "loong64",
    "mips64el-linux-gnuabi64": "mips64el",
    "mipsel-linux-gnu": "mipsel",
}
# Libraries whose package is not named after them.
PACKAGE_OF_LIBRARY = {"libz": "zlib1g"}


def list_file_guesses(soname: str, kind: ElfKind) -> List[str]:
    """The dpkg list files most likely to register the library soname.

    Only a hint for the order in which the list files are read.  Debian
    policy names the package of libfoo.so.1 libfoo1 (of libfoo2.so.1
    libfoo2-1); the 64-bit time_t transition appended t64 to many of those
    names; glibc's libraries are all in libc6.
    """
    name = soname.lower().replace("_", "-")
    stem, _so, version = name.partition(".so")
    version = version.lstrip(".")
    package = stem + ("-" if version and stem[-1:].isdigit() else "") + version
    packages = [package, package + "t64", PACKAGE_OF_LIBRARY.get(stem, "libc6"), "libc6"]
    arches = [DPKG_ARCHES[t] for t in multiarch_triplets(kind) if t in DPKG_ARCHES]
    names: List[str] = []
    for package in packages:
        for arch in arches:
            names.append("%s:%s.list" % (package, arch))
        names.append(package + ".list")
    return names


def platform_names(kind: ElfKind) -> List[str]:
    """Values $PLATFORM may take for this kind of file."""
    _elf_class, data, machine = kind
    names = {
        EM_X86_64: ["x86_64"],
        EM_386: ["i686", "i586", "i486", "i386"],
        EM_AARCH64: ["aarch64"],
        EM_ARM: ["v7l", "v8l", "v6l"],
        EM_PPC64: ["ppc64le" if data == ELFDATA2LSB else "ppc64"],
        EM_S390: ["s390x"],
        EM_RISCV: ["riscv64"],
        EM_LOONGARCH: ["loongarch64"],
    }
    return names.get(machine, [])


def lib_names(kind: ElfKind) -> List[str]:
    """Values $LIB may take: Debian's loader uses lib/<triplet>, others lib64 or lib."""
    names = ["lib/" + triplet for triplet in multiarch_triplets(kind)]
    names += ["lib64", "lib"] if kind[0] == ELFCLASS64 else ["lib32", "lib"]
    return names


def expand_search_path(value: str, origin: str, kind: ElfKind) -> List[str]:
    """Directories named by one RPATH/RUNPATH value, dynamic string tokens expanded."""
    result: List[str] = []
    for entry in value.split(":"):
        expanded = [entry]
        for token, values in (
            ("ORIGIN", [origin]),
            ("LIB", lib_names(kind)),
            ("PLATFORM", platform_names(kind)),
        ):
            if "$" not in entry:
                break
            next_round: List[str] = []
            for text in expanded:
                if "$" + token in text or "${" + token + "}" in text:
                    for replacement in values:
                        next_round.append(
                            text.replace("${" + token + "}", replacement).replace(
                                "$" + token, replacement
                            )
                        )
                else:
                    next_round.append(text)
            expanded = next_round
        for directory in expanded:
            # The loader takes relative entries relative to the working
            # directory at run time, which is unknown here: ignore them, and
            # entries with tokens it would not expand either.
            if directory.startswith("/") and "$" not in directory:
                result.append(os.path.normpath(directory))
    return result


def _star_match(name: str, pattern: str) -> bool:
    """fnmatch for patterns whose only wildcard is "*"."""
    parts = pattern.split("*")
    if not name.startswith(parts[0]) or len(name) < len(parts[0]) + len(parts[-1]):
        return False
    position = len(parts[0])
    for part in parts[1:-1]:
        position = name.find(part, position)
        if position < 0:
            return False
        position += len(part)
    return name.endswith(parts[-1]) and position <= len(name) - len(parts[-1])


def expand_include(pattern: str) -> List[str]:
    """The files an ld.so.conf include pattern names, sorted, as glob does."""
    directory, base = os.path.split(pattern)
    if any(c in directory for c in "*?[") or any(c in base for c in "?["):
        import glob  # rare patterns only: glob takes long to import

        return sorted(glob.glob(pattern))
    if "*" not in base:
        return [pattern] if os.path.exists(pattern) else []
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    return sorted(
        os.path.join(directory, name)
        for name in names
        if _star_match(name, base) and (base.startswith(".") or not name.startswith("."))
    )


def read_ld_so_conf(path: str = LD_SO_CONF, depth: int = 0) -> List[str]:
    """Directories listed in ld.so.conf, following include lines."""
    result: List[str] = []
    if depth > 8:
        return result
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return result
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.replace(",", " ").split()
        if words[0] == "include":
            for pattern in words[1:]:
                if not pattern.startswith("/"):
                    pattern = os.path.join(os.path.dirname(path), pattern)
                for included in expand_include(pattern):
                    result.extend(read_ld_so_conf(included, depth + 1))
        elif words[0] == "hwcap":
            continue
        else:
            for word in words:
                word = word.split("=", 1)[0]
                if word.startswith("/"):
                    result.append(os.path.normpath(word))
    return result


def usr_merge_aliases(path: str) -> List[str]:
    """path and the same path on the other side of /usr-merge (/lib/x <-> /usr/lib/x)."""
    for top in MERGED_DIRS:
        if path.startswith(top):
            return [path, "/usr" + path]
        if path.startswith("/usr" + top):
            return [path, path[4:]]
    return [path]


def is_under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


class Finder:
    """Looks libraries up as the dynamic loader would, with caches."""

    def __init__(self) -> None:
        # directory, and (st_dev, st_ino) of directory -> names in it
        self._listings: Dict[object, FrozenSet[str]] = {}
        self._search_paths: Dict[Tuple[str, str, ElfKind], List[str]] = {}
        self._kinds: Dict[str, Optional[ElfKind]] = {}
        self._system_dirs: Dict[ElfKind, List[str]] = {}
        self._system_hits: Dict[Tuple[str, ElfKind], Optional[str]] = {}
        self._ld_so_conf: Optional[List[str]] = None

    def listing(self, directory: str) -> FrozenSet[str]:
        names = self._listings.get(directory)
        if names is None:
            # /lib/<triplet> and /usr/lib/<triplet> are often one directory
            # with a thousand entries: list it once.
            try:
                info = os.stat(directory)
                names = self._listings.get((info.st_dev, info.st_ino))
                if names is None:
                    names = frozenset(os.listdir(directory))
                    self._listings[(info.st_dev, info.st_ino)] = names
            except OSError:
                names = frozenset()
            self._listings[directory] = names
        return names

    def kind_of(self, path: str) -> Optional[ElfKind]:
        if path in self._kinds:
            return self._kinds[path]
        kind: Optional[ElfKind] = None
        try:
            fd = os.open(path, OPEN_FLAGS)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    kind = elf_kind(os.read(fd, 20))
            except OSError:
                kind = None
            finally:
                os.close(fd)
        self._kinds[path] = kind
        return kind

    def system_dirs(self, kind: ElfKind) -> List[str]:
        dirs = self._system_dirs.get(kind)
        if dirs is None:
            if self._ld_so_conf is None:
                self._ld_so_conf = read_ld_so_conf()
            dirs = list(self._ld_so_conf)
            for triplet in multiarch_triplets(kind):
                dirs += ["/lib/" + triplet, "/usr/lib/" + triplet]
            if kind[0] == ELFCLASS64:
                dirs += ["/lib64", "/usr/lib64"]
            else:
                dirs += ["/lib32", "/usr/lib32", "/libx32", "/usr/libx32"]
            dirs += ["/lib", "/usr/lib"]
            unique: List[str] = []
            for directory in dirs:
                if directory not in unique:
                    unique.append(directory)
            dirs = unique
            self._system_dirs[kind] = dirs
        return dirs

    def search(self, soname: str, dirs: Iterable[str], kind: ElfKind) -> Optional[str]:
        for directory in dirs:
            if soname in self.listing(directory):
                candidate = os.path.join(directory, soname)
                if self.kind_of(candidate) == kind:
                    return candidate
        return None

    def find(self, soname: str, elf: ElfFile) -> Optional[str]:
        """The path the loader would load soname from for elf, or None."""
        if "/" in soname:
            path = os.path.abspath(soname)
            return path if self.kind_of(path) == elf.kind else None
        origin = os.path.dirname(elf.path)
        dirs: List[str] = []
        # DT_RPATH counts only when there is no DT_RUNPATH.
        for value in elf.runpath or elf.rpath:
            key = (value, origin, elf.kind)
            expanded = self._search_paths.get(key)
            if expanded is None:
                expanded = self._search_paths[key] = expand_search_path(value, origin, elf.kind)
            dirs.extend(expanded)
        if dirs:
            found = self.search(soname, dirs, elf.kind)
            if found is not None:
                return found
        key = (soname, elf.kind)
        if key not in self._system_hits:
            self._system_hits[key] = self.search(soname, self.system_dirs(elf.kind), elf.kind)
        return self._system_hits[key]


class DpkgDb:
    """Which package owns a path, from /var/lib/dpkg read directly."""

    def __init__(self, info_dir: str = DPKG_INFO, diversions: str = DPKG_DIVERSIONS) -> None:
        self.info_dir = info_dir
        self.available = os.path.isdir(info_dir)
        # diverted-to path -> (original path, diverting package)
        self.diverted_to: Dict[str, Tuple[str, str]] = {}
        # original path -> diverting package (":" for a local diversion)
        self.diverted_from: Dict[str, str] = {}
        try:
            with open(diversions, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            lines = []
        for index in range(0, len(lines) - 2, 3):
            original, moved, package = lines[index], lines[index + 1], lines[index + 2]
            package = package.split(":", 1)[0] if package != ":" else ":"
            self.diverted_to[moved] = (original, package)
            self.diverted_from[original] = package

    def owners(
        self,
        paths: Iterable[str],
        enough: Optional[List[List[str]]] = None,
        hints: Iterable[str] = (),
    ) -> Dict[str, Set[str]]:
        """Map each of paths (as registered with dpkg) to the packages listing it.

        Reading every list file takes a while.  If enough is given, reading
        stops once every group of paths in it has one path found, and the most
        likely list files are read first: those named in hints (tried without
        listing the directory), then those of the packages whose shlibs file
        describes one of the libraries, then those of library packages (with a
        shlibs or symbols file), then the rest.
        """
        wanted = set(paths)
        for path in list(wanted):
            if path in self.diverted_to:
                wanted.update(usr_merge_aliases(self.diverted_to[path][0]))
        if not wanted or not self.available:
            return {}
        search = ListSearch(self, wanted, enough)
        # Most libraries are in the package named after them (libfoo.so.1 in
        # libfoo1): a handful of opens may settle everything, without listing
        # the thousands of files of the dpkg directory.
        if search.can_stop and search.read(hints):
            return search.found
        try:
            names = os.listdir(self.info_dir)
        except OSError:
            return search.found
        search.read(self._lists_in_order(names, search.unsettled()))
        return search.found

    def is_diverted(self, path: str) -> bool:
        """Whether a diversion moved the file at path away, or moved a file there."""
        return path in self.diverted_to or path in self.diverted_from

    def _lists_in_order(self, names: List[str], unsettled: List[List[str]]) -> List[str]:
        """The list files among the names in the dpkg directory, likeliest first.

        The shlibs files say which package provides which soname: the list
        files of those packages for the unsettled groups of paths come first,
        then those of library packages (with a shlibs or symbols file).
        """
        lists = []
        library_packages = set()
        shlibs = []
        for name in names:
            if name.endswith(".list"):
                lists.append(name)
            elif name.endswith(".shlibs"):
                shlibs.append(name)
                library_packages.add(name[: -len(".shlibs")])
            elif name.endswith(".symbols"):
                library_packages.add(name[: -len(".symbols")])
        hinted = self._packages_providing(
            shlibs, {os.path.basename(p) for group in unsettled for p in group}
        )

        def order(name: str) -> int:
            stem = name[: -len(".list")]
            return 0 if stem in hinted else (1 if stem in library_packages else 2)

        lists.sort(key=order)
        return lists

    def _packages_providing(self, shlibs: List[str], sonames: Set[str]) -> Set[str]:
        """Stems (package[:arch]) of the shlibs files that describe one of sonames."""
        stems: Set[str] = set()
        if not sonames:
            return stems
        # "libz.so.1" is described as "libz 1", "libfoo-1.2.so" as "libfoo 1.2":
        # files that do not hold any of the library names are not parsed.
        libraries = {os.fsencode(soname.split(".so", 1)[0].rsplit("-", 1)[0]) for soname in sonames}
        for name in shlibs:
            content = _read_file(os.path.join(self.info_dir, name))
            if content is None or not any(library in content for library in libraries):
                continue
            try:
                lines = content.decode("utf-8").splitlines()
            except UnicodeError:
                continue
            for line in lines:
                # "[type:] library version dependencies": libz 1 -> libz.so.1
                words = line.split()
                if len(words) < 2 or words[0].endswith(":") or words[0].startswith("#"):
                    continue
                library, version = words[0], words[1]
                if (
                    library + ".so." + version in sonames
                    or library + "-" + version + ".so" in sonames
                ):
                    stems.add(name[: -len(".shlibs")])
                    break
        return stems

    def owner_of(self, path: str, listed: Dict[str, Set[str]]) -> Set[str]:
        """Packages that put the file now at path there, diversions considered."""
        if path in self.diverted_to:
            original, by = self.diverted_to[path]
            owners: Set[str] = set()
            for alias in usr_merge_aliases(original):
                owners |= listed.get(alias, set())
            owners.discard(by)
            return owners
        if path in self.diverted_from:
            by = self.diverted_from[path]
            # A local diversion (":") put a file of no package there.
            return {by} & listed.get(path, set())
        return set(listed.get(path, set()))


class ListSearch:
    """Reads dpkg list files for DpkgDb.owners, noting which packages list the paths wanted.

    enough: groups of paths of which one found is enough; once every group
    has one, the search can stop.  Groups touched by a diversion are never
    settled early: the owner of a diverted path is the package it was
    diverted from, which may be read last.
    """

    def __init__(self, db: DpkgDb, wanted: Set[str], enough: Optional[List[List[str]]]) -> None:
        """Note which group each path of enough settles; the paths of enough are wanted too."""
        self.info_dir = db.info_dir
        self.found: Dict[str, Set[str]] = {}
        self.done: Set[str] = set()  # list files read
        self.groups = enough or []
        # path -> indexes of the groups it settles
        self.settles: Dict[bytes, List[int]] = {}
        self.open_groups: Set[int] = set()
        for index, group in enumerate(self.groups):
            if any(db.is_diverted(p) for p in group):
                continue
            self.open_groups.add(index)
            for path in group:
                self.settles.setdefault(os.fsencode(path), []).append(index)
        self.wanted = {os.fsencode(p) for p in wanted.union(*self.groups)}
        self.can_stop = enough is not None and len(self.open_groups) == len(self.groups)

    def unsettled(self) -> List[List[str]]:
        """The groups of paths none of which is found yet."""
        return [group for index, group in enumerate(self.groups) if index in self.open_groups]

    def read(self, names: Iterable[str]) -> bool:
        """Read list files not read yet; True once every group is settled."""
        for name in names:
            if name in self.done:
                continue
            self.done.add(name)
            content = _read_file(os.path.join(self.info_dir, name))
            if content is None:
                continue
            hits = self.wanted.intersection(content.split(b"\n"))
            if not hits:
                continue
            # libfoo1:amd64.list belongs to the package libfoo1.
            package = name[: -len(".list")].split(":", 1)[0]
            for hit in hits:
                self.found.setdefault(os.fsdecode(hit), set()).add(package)
                for index in self.settles.get(hit, ()):
                    self.open_groups.discard(index)
            if self.can_stop and not self.open_groups:
                return True
        return False


def owner_candidates(path: str) -> List[str]:
    """Paths under which dpkg may have registered the library found at path.

    First the path as the loader found it (the soname link), then with its
    directories resolved, each also on the other side of /usr-merge: these all
    name the same directory entry.  Last the file the link points to.
    """
    result = soname_candidates(path)
    for alias in usr_merge_aliases(os.path.realpath(path)):
        if alias not in result:
            result.append(alias)
    return result


def soname_candidates(path: str) -> List[str]:
    """The names of the directory entry at path, /usr-merge and directory links considered."""
    result: List[str] = []
    directory, name = os.path.split(path)
    for candidate in (path, os.path.join(os.path.realpath(directory), name)):
        for alias in usr_merge_aliases(candidate):
            if alias not in result:
                result.append(alias)
    return result


DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def walk(root: str, unreadable: Dict[str, str]) -> Iterator[Tuple[str, int, List[str], List[str]]]:
    """(directory, directory fd, regular files, other entries) for each directory.

    Symbolic links are listed among the other entries and never followed,
    neither to files (they would count a file twice) nor to directories (they
    may loop).  Files are best opened relative to the directory fd: that is
    quicker than by path.
    """
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            dir_fd = os.open(directory, DIR_FLAGS)
        except OSError as exc:
            unreadable[directory] = exc.strerror or str(exc)
            continue
        files: List[str] = []
        others: List[str] = []
        prefix = directory if directory.endswith("/") else directory + "/"
        try:
            with os.scandir(dir_fd) as entries:
                # Most entries are files: test for those first.  The type
                # comes with the directory entry, without a stat call.
                for entry in entries:
                    try:
                        if entry.is_file(follow_symlinks=False):
                            files.append(entry.name)
                        elif entry.is_dir(follow_symlinks=False):
                            stack.append(prefix + entry.name)
                        else:
                            others.append(entry.name)
                    except OSError:
                        continue
            yield directory, dir_fd, files, others
        except OSError as exc:
            unreadable[directory] = exc.strerror or str(exc)
        finally:
            os.close(dir_fd)


def read_open_file(
    fd: int, path: str, head: bytes, host: Optional[ElfKind] = None
) -> Tuple[Optional[ElfFile], str]:
    """parse_file for a file already open whose first bytes are the ELF magic.

    Files for another machine than host (another architecture, word size or
    byte order) are skipped: the loader here would never load them, and the
    libraries they need are not to be found here either (a pure-Python wheel
    may ship helper binaries for a board).
    """
    kind = elf_kind(head)
    if kind is None:
        return None, "broken ELF: unknown ELF class or data encoding"
    if host is not None and kind != host:
        return None, "ELF for %s, not for this machine (%s)" % (
            describe_kind(kind),
            describe_kind(host),
        )
    try:
        elf = read_elf(fd, path, head, os.fstat(fd).st_size)
    except BadElf as exc:
        return None, "broken ELF: %s" % exc
    except (struct.error, OverflowError, ValueError, MemoryError) as exc:
        # Not expected with the checks in read_elf; a file must never end the scan.
        return None, "broken ELF: %s" % (exc or type(exc).__name__)
    if elf is None:
        return None, "ELF without dynamic section (static or not loadable)"
    return elf, ""


class Result:
    """What a scan found."""

    def __init__(self) -> None:
        # package -> file -> sonames
        self.packages: Dict[str, Dict[str, Set[str]]] = {}
        # library path -> file -> sonames (found, but owned by no package)
        self.unowned: Dict[str, Dict[str, Set[str]]] = {}
        # file -> sonames found nowhere
        self.missing: Dict[str, Set[str]] = {}
        # system library path (as the loader finds it) -> owning packages
        self.libraries: Dict[str, List[str]] = {}
        # file -> sonames found nowhere but named by --ignore-missing
        self.ignored: Dict[str, Set[str]] = {}
        # file or directory that could not be read -> why
        self.unreadable: Dict[str, str] = {}
        self.notes: List[str] = []
        self.scanned = 0
        self.elf_files = 0

    def as_json(self) -> Dict[str, object]:
        def lists(mapping: Dict[str, Set[str]]) -> Dict[str, List[str]]:
            return {key: sorted(mapping[key]) for key in sorted(mapping)}

        return {
            "packages": {key: lists(self.packages[key]) for key in sorted(self.packages)},
            "unowned": {key: lists(self.unowned[key]) for key in sorted(self.unowned)},
            "missing": lists(self.missing),
            "libraries": {key: self.libraries[key] for key in sorted(self.libraries)},
            "ignored": lists(self.ignored),
            "unreadable": {key: self.unreadable[key] for key in sorted(self.unreadable)},
        }


def looks_like_library(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


def scan(
    roots: List[str],
    verbose: int = 0,
    dpkg: Optional[DpkgDb] = None,
    ignore: FrozenSet[str] = frozenset(),
    host: Optional[ElfKind] = None,
) -> Result:
    """Find the package dependencies of the ELF files under roots.

    ignore: sonames that may be found nowhere (listed as ignored, not
    missing); host: the kind of ELF file this machine loads (others are
    skipped), by default that of the running interpreter.
    """
    result = Result()
    if host is None:
        host = host_kind()
    real_roots = _distinct_roots(roots)

    # 1. Walk the trees: parse every regular file that is ELF, and remember
    #    every name a library inside the trees can be found under.
    trees = Trees()
    for root in real_roots:
        if os.path.isdir(root):
            _scan_tree(root, trees, result, verbose, host)
        else:
            _scan_file_root(root, trees, result, verbose, host)
    result.elf_files = len(trees.elves)

    # 2. Resolve every needed soname.
    finder = Finder()
    system = _resolve_needed(trees, real_roots, finder, ignore, result)

    # 3. Map the system libraries to their packages.
    if dpkg is None:
        dpkg = DpkgDb()
    _assign_packages(system, finder, dpkg, result)
    return result


def _distinct_roots(roots: List[str]) -> List[str]:
    """The real paths of roots, sorted, without those inside another one."""
    real_roots: List[str] = []
    for root in sorted({os.path.realpath(r) for r in roots}):
        if not is_under(root, real_roots):
            real_roots.append(root)
    return real_roots


class Trees:
    """What the walk found: the ELF files, and every name a library in the trees has."""

    def __init__(self) -> None:
        self.elves: List[ElfFile] = []
        # The names in the trees, one list per directory: made into a set
        # only if some soname is found nowhere.
        self.name_lists: List[List[str]] = []
        self.sonames: List[str] = []
        self._names: Optional[Set[str]] = None

    def has_name(self, name: str) -> bool:
        """Whether a file inside the trees has this name, or this soname."""
        if self._names is None:
            self._names = {entry for names in self.name_lists for entry in names}
            self._names.update(self.sonames)
        return name in self._names


def _scan_file_root(
    root: str, trees: Trees, result: Result, verbose: int, host: Optional[ElfKind]
) -> None:
    """Look at a root that is no directory: the one file it names."""
    result.scanned += 1
    try:
        elf, why = parse_file(root, host)
    except OSError as exc:
        result.unreadable[root] = exc.strerror or str(exc)
        return
    if elf is not None:
        trees.elves.append(elf)
    elif verbose:
        result.notes.append("skipped %s: %s" % (shown(root), why))


def _scan_tree(
    root: str, trees: Trees, result: Result, verbose: int, host: Optional[ElfKind]
) -> None:
    """Parse every regular file under root that is ELF, and note every name in the tree."""
    # This loop runs for every file of the trees, most of them not ELF:
    # it is kept short.
    os_open, os_read, os_close = os.open, os.read, os.close
    flags, magic, notes = OPEN_FLAGS, ELF_MAGIC, result.notes
    unreadable, elves, sonames = result.unreadable, trees.elves, trees.sonames
    for directory, dir_fd, files, others in walk(root, unreadable):
        trees.name_lists.append(files)
        trees.name_lists.append(others)
        result.scanned += len(files)
        for name in files:
            try:
                fd = os_open(name, flags, dir_fd=dir_fd)
            except OSError as exc:
                unreadable[directory + "/" + name] = exc.strerror or str(exc)
                continue
            try:
                head = os_read(fd, HEADER_SIZE)
                if head[:4] != magic:
                    if verbose >= 2 or (verbose and looks_like_library(name)):
                        notes.append("skipped %s: not ELF" % shown(directory + "/" + name))
                    continue
                elf, why = read_open_file(fd, directory + "/" + name, head, host)
            except OSError as exc:
                unreadable[directory + "/" + name] = exc.strerror or str(exc)
                continue
            finally:
                os_close(fd)
            if elf is None:
                if verbose:
                    notes.append("skipped %s: %s" % (shown(directory + "/" + name), why))
                continue
            elves.append(elf)
            if elf.soname:
                sonames.append(elf.soname)


def _resolve_needed(
    trees: Trees, real_roots: List[str], finder: Finder, ignore: FrozenSet[str], result: Result
) -> Dict[str, Dict[str, Set[str]]]:
    """The system libraries the ELF files need: library path -> file -> sonames.

    Libraries inside the trees are no system libraries.  A soname found
    nowhere is missing (or ignored), unless a file inside the trees has
    that name: the vendored libraries of a wheel are found by name.
    """
    real_paths: Dict[str, str] = {}
    system: Dict[str, Dict[str, Set[str]]] = {}
    for elf in trees.elves:
        for soname in elf.needed:
            found = finder.find(soname, elf)
            if found is None:
                if not trees.has_name(os.path.basename(soname)):
                    absent = result.ignored if soname in ignore else result.missing
                    absent.setdefault(elf.path, set()).add(soname)
                continue
            if is_under(found, real_roots):
                continue  # shipped inside the trees
            real = real_paths.get(found)
            if real is None:
                real = real_paths[found] = os.path.realpath(found)
            if is_under(real, real_roots):
                continue  # shipped inside the trees, through a link
            system.setdefault(found, {}).setdefault(elf.path, set()).add(soname)
    return system


def _assign_packages(
    system: Dict[str, Dict[str, Set[str]]], finder: Finder, dpkg: DpkgDb, result: Result
) -> None:
    """Record the packages owning each system library, or the library as owned by none."""
    if system and not dpkg.available:
        result.notes.append(
            "no dpkg database at %s: no library has an owner" % shown(dpkg.info_dir)
        )
    candidates = {path: owner_candidates(path) for path in system}
    listed = dpkg.owners(
        (p for paths in candidates.values() for p in paths),
        [soname_candidates(path) for path in system],
        _list_file_hints(system, finder),
    )
    for path, users in system.items():
        owners: Set[str] = set()
        for candidate in candidates[path]:
            owners = dpkg.owner_of(candidate, listed)
            if owners:
                break
        result.libraries[path] = sorted(owners)
        targets = [result.packages.setdefault(package, {}) for package in owners]
        for target in targets or [result.unowned.setdefault(path, {})]:
            for user, sonames in users.items():
                target.setdefault(user, set()).update(sonames)


def _list_file_hints(system: Dict[str, Dict[str, Set[str]]], finder: Finder) -> List[str]:
    """The dpkg list files likeliest to register the libraries, to be read first.

    Reading can stop early once the soname path of every library is found.
    """
    hints: List[str] = []
    for path in system:
        kind = finder.kind_of(path)
        if kind is not None:
            hints.extend(list_file_guesses(os.path.basename(path), kind))
    return hints


USAGE = (
    "usage: find-libdeps [-h] [-v] [--json] [--strict]"
    " [--ignore-missing [SONAME[,SONAME...]]]... DIR..."
)

OPTIONS = """\
arguments:
  DIR               directory (or single file) to scan

options:
  -h, --help        show this help and exit
  -v, --verbose     note skipped files and print a summary (-vv: note every
                    file that is not ELF too)
  --json            print, instead of the names,
                    {"packages": {PACKAGE: {FILE: [SONAME...]}},
                     "unowned":  {LIBRARY: {FILE: [SONAME...]}},
                     "missing":  {FILE: [SONAME...]},
                     "libraries": {LIBRARY: [PACKAGE...]},
                     "ignored": {FILE: [SONAME...]},
                     "unreadable": {PATH: REASON}}
  --ignore-missing  a library found nowhere is a warning, not an error
  --ignore-missing SONAME[,SONAME...], --ignore-missing=SONAME[,SONAME...]
                    these libraries may be found nowhere: they are left out
                    without a warning (listed as "ignored"); repeatable.  The
                    argument after a bare --ignore-missing is taken as sonames
                    when it has no "/" and each name in it holds ".so"
  --strict          a file or directory that can not be read is an error"""


class UsageError(Exception):
    """Bad command line: reported as one line on stderr, exit status 2."""


class Options:
    def __init__(self) -> None:
        self.dirs: List[str] = []
        self.json = False
        self.ignore_missing = False
        self.ignore: Set[str] = set()
        self.strict = False
        self.verbose = 0
        self.help = False


def looks_like_sonames(text: str) -> bool:
    """Whether the word after a bare --ignore-missing names libraries, not a DIR."""
    return "/" not in text and all(".so" in name for name in text.split(","))


def add_sonames(options: Options, text: str) -> None:
    names = text.split(",")
    for name in names:
        if not name:
            raise UsageError("empty soname in --ignore-missing %s" % shown(text))
        if "/" in name:
            raise UsageError("--ignore-missing takes sonames, not paths: %s" % shown(name))
    options.ignore.update(names)


def parse_args(argv: List[str]) -> Options:
    """The command line, parsed by hand: argparse alone would double the start-up time."""
    options = Options()
    only_dirs = False
    position = 0
    while position < len(argv):
        arg = argv[position]
        position += 1
        if only_dirs or arg == "-" or not arg.startswith("-"):
            options.dirs.append(arg)
        elif arg == "--":
            only_dirs = True
        elif arg in ("-h", "--help"):
            options.help = True
        elif arg == "--json":
            options.json = True
        elif arg == "--ignore-missing":
            following = argv[position] if position < len(argv) else "-"
            if not following.startswith("-") and looks_like_sonames(following):
                add_sonames(options, following)
                position += 1
            else:
                options.ignore_missing = True
        elif arg.startswith("--ignore-missing="):
            add_sonames(options, arg[len("--ignore-missing=") :])
        elif arg == "--strict":
            options.strict = True
        elif arg == "--verbose":
            options.verbose += 1
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) == {"v"}:
            options.verbose += len(arg) - 1
        else:
            raise UsageError("unknown option %s" % shown(arg))
    if options.help:
        return options
    if not options.dirs:
        raise UsageError("no DIR given")
    for directory in options.dirs:
        if not os.path.exists(directory):
            raise UsageError("no such file or directory: %s" % shown(directory))
    return options


def main(argv: Optional[List[str]] = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    try:
        args = parse_args(argv)
    except UsageError as exc:
        sys.stderr.write("%s: %s (%s)\n" % (PROG, exc, USAGE))
        return EXIT_USAGE
    if args.help:
        sys.stdout.write("%s\n\n%s\n\n%s\n\n%s\n" % (USAGE, DESCRIPTION, OPTIONS, EPILOG))
        return 0

    result = scan(
        [os.path.abspath(d) for d in args.dirs], args.verbose, ignore=frozenset(args.ignore)
    )
    report(result, args)
    if args.json:
        import json  # only needed here

        sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
    else:
        for package in sorted(result.packages):
            sys.stdout.write(package + "\n")
    sys.stdout.flush()
    if result.missing and not args.ignore_missing:
        return EXIT_MISSING
    if result.unreadable and args.strict:
        return EXIT_MISSING
    return 0


# Lines naming the sonames one file needs that are found nowhere: each line
# repeats the file's path, and a file may name thousands of sonames.
SONAMES_SHOWN = 10


def soname_lines(sonames_of: Dict[str, Set[str]], why: str, why_more: str) -> Iterator[str]:
    """The lines "FILE needs SONAME, why", SONAMES_SHOWN a file at most.

    The sonames past those are counted on one more line: what is printed
    about a file stays on the order of its size, and --json lists them all.
    """
    for user in sorted(sonames_of):
        sonames = sorted(sonames_of[user])
        for soname in sonames[:SONAMES_SHOWN]:
            yield "%s needs %s, %s" % (shown(user), shown(soname), why)
        if len(sonames) > SONAMES_SHOWN:
            yield "%s needs %d more libraries %s (--json lists them)" % (
                shown(user),
                len(sonames) - SONAMES_SHOWN,
                why_more,
            )


def report(result: Result, args: Options) -> None:
    """Notes, warnings and errors on stderr, every path and soname escaped."""
    err = sys.stderr
    for note in result.notes:
        err.write("%s: note: %s\n" % (PROG, note))
    level = "error" if args.strict else "warning"
    for path in sorted(result.unreadable):
        err.write(
            "%s: %s: %s can not be read (%s): the libraries it needs are unknown\n"
            % (PROG, level, shown(path), result.unreadable[path])
        )
    for library in sorted(result.unowned):
        users = result.unowned[library]
        sonames = sorted(set().union(*users.values()))
        first = sorted(users)[0]
        more = " and %d more files" % (len(users) - 1) if len(users) > 1 else ""
        err.write(
            "%s: warning: %s (needed as %s by %s%s) is owned by no package:"
            " it can not be apt-installed\n"
            % (PROG, shown(library), shown(", ".join(sonames)), shown(first), more)
        )
        if args.verbose and len(users) > 1:
            for user in sorted(users)[1:]:
                err.write("%s: note: %s also needed by %s\n" % (PROG, shown(library), shown(user)))
    level = "warning" if args.ignore_missing else "error"
    for line in soname_lines(result.missing, "which is found nowhere", "found nowhere"):
        err.write("%s: %s: %s\n" % (PROG, level, line))
    if args.verbose:
        ignored = soname_lines(
            result.ignored,
            "found nowhere and ignored (--ignore-missing)",
            "found nowhere and ignored",
        )
        for line in ignored:
            err.write("%s: note: %s\n" % (PROG, line))
        err.write(
            "%s: %d files scanned, %d dynamic ELF files, %d packages\n"
            % (PROG, result.scanned, result.elf_files, len(result.packages))
        )


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave at once: tearing down the interpreter and everything the scan
    # built takes a few milliseconds and serves no purpose here.
    os._exit(status)
