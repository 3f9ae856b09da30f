"""Budgets: the values read, the measures taken, the decision before tagging and its
one line; on the fake engine, which answers with an image's sizes, files and archive."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from pathlib import Path

import pytest

from snakepacker import options as opts
from snakepacker.cli import pack as pack_command
from snakepacker.cli.main import main
from snakepacker.engine.fake import FakeEngine
from snakepacker.errors import BudgetError, UsageError
from snakepacker.pack.options import Size, check_count, check_size
from snakepacker.supply.layers import read_archive

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-app"
VENV = "/usr/share/python3/app"
SITE = f"{VENV}/lib/python3.12/site-packages"
MB = 10**6
BASE, PYTHON, ALL = ("snakepacker/python:base", "snakepacker/python:3.12",
                     "snakepacker/python:all")


@pytest.fixture(autouse=True)
def no_settings_of_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("SNAKEPACKER_")]:
        monkeypatch.delenv(name)


# -- the values -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "size", "shown"), [
    ("200MB", 200 * MB, "200 MB"), ("200 mb", 200 * MB, "200 MB"),
    ("1.5GiB", 3 * 2**29, "1.5 GiB"), ("80 MiB", 80 * 2**20, "80 MiB"),
    ("12kB", 12_000, "12 kB"), ("250000000", 250 * MB, "250 MB"), ("1.25 GB", 1_250 * MB,
                                                                   "1.25 GB"),
])
def test_a_size_is_bytes_or_a_number_with_a_unit(text: str, size: int, shown: str) -> None:
    found = check_size("--max-size", text)
    assert found is not None and found.bytes == size and found.show() == shown


def test_values_are_shown_in_the_budgets_unit() -> None:
    assert Size(200 * MB, "MB").show(152_345_678) == "152.3 MB"
    assert Size(2**30, "GiB").show(3 * 2**29) == "1.50 GiB"
    assert Size(1, "MB").show() == "1 byte" and Size(1, "MB").show(35) == "35 bytes"


@pytest.mark.parametrize("text", ["200M", "MB", "-1", "1e3", "0", "0.0000001kB", "ten"])
def test_a_bad_size_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="--max-size"):
        check_size("--max-size", text)


def test_a_count_is_a_whole_number() -> None:
    assert check_count("--max-system-packages", " 40 ") == 40
    assert check_count("--max-system-packages", "0") == 0
    assert check_count("--max-system-packages", None) is None
    for text in ("-1", "4.5", "many"):
        with pytest.raises(UsageError, match="not a whole number"):
            check_count("--max-system-packages", text)


def test_budgets_are_read_like_every_option() -> None:
    """defaults < [tool.snakepacker] < environment < command line, a TOML integer
    being bytes (sizes) or a count."""
    tool = {"max-size": 300_000_000, "max_compressed_size": "90MB", "max-system-packages": 40}
    values = opts.read(opts.PACK, {"max_size": "200MB"},
                       env={"SNAKEPACKER_MAX_SYSTEM_PACKAGES": "12"}, pyproject=tool)
    assert (values["max-size"], values["max-compressed-size"],
            values["max-system-packages"]) == ("200MB", "90MB", "12")
    assert opts.read(opts.PACK, {}, env={}, pyproject=tool)["max-size"] == "300000000"
    for wrong in ({"max-size": True}, {"max-system-packages": "40"},
                  {"max-system-packages": 4.5}):
        with pytest.raises(UsageError, match="has the wrong type"):
            opts.read(opts.PACK, {}, env={}, pyproject=wrong)


@pytest.mark.parametrize(("argv", "env", "named"), [
    (["--max-size", "200M"], {}, "--max-size '200M': not a size"),
    (["--max-compressed-size", "0"], {}, "--max-compressed-size '0': a size budget must"),
    ([], {"SNAKEPACKER_MAX_SYSTEM_PACKAGES": "many"}, "--max-system-packages 'many'"),
])
def test_a_bad_budget_is_one_line_and_exit_2(
    argv: list[str], env: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["pack", str(DEMO), "--dockerfile", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err


# -- the compressed size ----------------------------------------------------------------


def noise(size: int, seed: int) -> bytes:
    """Bytes no compressor can shrink: a layer's compressed size is about its size."""
    return random.Random(seed).randbytes(size)


def layer_tar(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("data.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def archive(layers: list[tuple[bytes, str]], *, gzipped: int | None = None,
            twice: int | None = None, oci: bool = False) -> tuple[bytes, list[str]]:
    """A `docker save` archive of LAYERS ((payload, instruction), oldest first), and
    the diff ids: layer GZIPPED stored compressed (containerd's store), layer TWICE
    listed twice, the second time through a symlink (as docker writes it); with OCI,
    every file a blob named by its digest, as docker 25 and later write them."""
    buffer = io.BytesIO()
    diff_ids, names, history = [], [], [{"created_by": "ENV A=1", "empty_layer": True}]
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for index, (payload, created_by) in enumerate(layers):
            data = layer_tar(payload)
            diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
            stored = gzip.compress(data) if index == gzipped else data
            name = f"blobs/sha256/{hashlib.sha256(stored).hexdigest()}" if oci \
                else f"{index:04d}/layer.tar"
            add(name, stored)
            names.append(name)
            history.append({"created_by": created_by})
        if twice is not None:
            link = tarfile.TarInfo("dupe/layer.tar")
            link.type, link.linkname = tarfile.SYMTYPE, f"../{twice:04d}/layer.tar"
            tar.addfile(link)
            names.append("dupe/layer.tar")
            diff_ids.append(diff_ids[twice])
            history.append(history[twice + 1])
        config = json.dumps({"rootfs": {"type": "layers", "diff_ids": diff_ids},
                             "history": history}).encode()
        config_name = f"blobs/sha256/{hashlib.sha256(config).hexdigest()}" if oci \
            else "config.json"
        add(config_name, config)
        add("manifest.json", json.dumps([{"Config": config_name, "Layers": names}]).encode())
    return buffer.getvalue(), diff_ids


def test_the_compressed_size_is_each_layer_gzipped_as_saved() -> None:
    text = b"the same line again\n" * 50_000  # 1 MB that gzip makes small
    saved, diff_ids = archive([(noise(300_000, 1), "ADD root"), (text, "RUN apt-install"),
                               (noise(200_000, 2), "COPY venv")], gzipped=2, twice=0)
    layers = read_archive(io.BytesIO(saved))
    assert [layer.diff_id for layer in layers] == diff_ids
    assert [layer.created_by for layer in layers] == ["ADD root", "RUN apt-install",
                                                      "COPY venv", "ADD root"]
    assert 300_000 < layers[0].compressed < 310_000  # noise: gzip cannot shrink it
    assert layers[1].compressed < 20_000  # compressed here, at gzip's level
    stored = len(gzip.compress(layer_tar(noise(200_000, 2))))
    assert layers[2].compressed == stored  # compressed already: counted as it is
    assert layers[3] == layers[0]


def test_the_oci_layout_of_newer_engines_reads_alike() -> None:
    payloads = [(noise(300_000, 1), "ADD root"), (noise(200_000, 2), "COPY venv")]
    docker_format = read_archive(io.BytesIO(archive(payloads, gzipped=1)[0]))
    oci = read_archive(io.BytesIO(archive(payloads, gzipped=1, oci=True)[0]))
    assert oci == docker_format and len(oci) == 2


# -- the decision, on a pack ------------------------------------------------------------


def dpkg_status(*packages: tuple[str, int]) -> bytes:
    return "".join(f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\n"
                   f"Version: 1.0\nInstalled-Size: {kib}\n\n"
                   for name, kib in packages).encode()


def record(*paths: str) -> bytes:
    return "".join(f"{path},sha256=x,1\n" for path in paths).encode()


def venv_files() -> dict[str, bytes]:
    """A venv with pillow (6 MB), psycopg2 (3 MB) and the project (a few bytes)."""
    return {
        f"{SITE}/pillow-11.0.0.dist-info/RECORD": record("PIL/__init__.py",
                                                         "pillow.libs/libjpeg.so"),
        f"{SITE}/PIL/__init__.py": b"x" * (2 * MB),
        f"{SITE}/PIL/__pycache__/__init__.cpython-312.pyc": b"x" * MB,
        f"{SITE}/pillow.libs/libjpeg.so": b"x" * (3 * MB),
        f"{SITE}/psycopg2-2.9.9.dist-info/RECORD": record("psycopg2/_psycopg.so"),
        f"{SITE}/psycopg2/_psycopg.so": b"x" * (3 * MB),
        f"{SITE}/demo_app-0.1.0.dist-info/RECORD": record("demo_app/__init__.py",
                                                          "../../../bin/demo-app"),
        f"{SITE}/demo_app/__init__.py": b"print()\n",
    }


# The demo's image as saved: base's layer, the interpreter's, then pack's four.
LAYERS = [(noise(8_000, 1), "ADD root"), (noise(4_000, 2), "RUN python"),
          (noise(1_000, 3), "RUN |3 /bin/sh -c set -eu; apt-install"),
          (noise(2_000, 4), f"COPY {VENV} {VENV} # buildkit"),
          (b"", "WORKDIR /app"), (noise(500, 5), "COPY /tmp/snakepacker-layer/ / # b")]


def gzipped(index: int) -> int:
    """LAYERS[INDEX] as a push sends it: its tar, gzip at the default level."""
    return len(gzip.compress(layer_tar(LAYERS[index][0]), compresslevel=6))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The jammy 3.12 family and what the demo's pack (keyed by its build's label)
    measures: 150 MB, of which base 80, interpreter 40, system libraries 10 and venv
    20; three packages over 3.12's; four layers on 3.12's two."""
    saved, diff_ids = archive(LAYERS)
    engine = FakeEngine(
        images={BASE: "sha256:base", PYTHON: "sha256:py", ALL: "sha256:all"},
        sizes={BASE: 80 * MB, PYTHON: 120 * MB, "demo-app": 150 * MB},
        histories={PYTHON: [(40 * MB, "RUN python"), (80 * MB, "ADD root")],
                   "demo-app": [(1000, "COPY /tmp/snakepacker-layer/ / # buildkit"),
                                (0, "WORKDIR /app"),
                                (20 * MB - 1000, f"COPY {VENV} {VENV} # buildkit"),
                                (10 * MB, "RUN |3 /bin/sh -c set -eu; apt-install"),
                                (40 * MB, "RUN python"), (80 * MB, "ADD root")]},
        layers={BASE: diff_ids[:1], PYTHON: diff_ids[:2]},
        files={PYTHON: {"/var/lib/dpkg/status": dpkg_status(("libc6", 13000),
                                                            ("python3.12", 500))},
               "demo-app": {"/var/lib/dpkg/status": dpkg_status(
                   ("libc6", 13000), ("python3.12", 500), ("libpq5", 900),
                   ("libldap-2.5-0", 600), ("libsasl2-2", 200)), **venv_files()}},
        saved={"demo-app": saved},
    )
    monkeypatch.setattr(pack_command, "engine_of", lambda _values: engine)
    return engine


def pack(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["pack", str(DEMO), "-t", "demo:1", "--entrypoint", "demo-app", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("snakepacker: error:")]
    assert len(lines) == 1 and err.endswith(lines[0] + "\n"), err
    return lines[0]


def test_no_budget_measures_nothing(fake: FakeEngine, capsys: pytest.CaptureFixture[str],
                                    ) -> None:
    code, out, _ = pack(capsys)
    assert code == 0 and fake.images["demo:1"]
    assert not fake.called("save") and not fake.called("created")
    assert "max-" not in out


def test_within_budget_the_image_is_tagged_and_each_budget_reported(
    fake: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = pack(capsys, "--max-size", "200MB", "--max-compressed-size", "1MB",
                        "--max-system-packages", "3")
    assert code == 0 and "demo:1" in fake.images
    budget = {line.split()[0]: line.split()[1:] for line in out.splitlines()
              if line.strip().startswith("max-")}
    assert budget["max-size"] == ["200", "MB", "150.0", "MB"]
    assert budget["max-compressed-size"][:2] == ["1", "MB"]
    assert budget["max-system-packages"] == ["3", "3"]


def test_over_max_size_fails_with_one_line_and_tags_nothing(
    fake: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = pack(capsys, "--max-size", "100MB")
    assert code == 6
    line = error_line(err)
    assert "demo:1 is over budget: size 150.0 MB > max-size 100 MB (biggest: " in line
    # The report's buckets, the biggest first, and the venv's biggest distributions.
    assert ("biggest: base 80.0 MB, interpreter 40.0 MB, venv 20.0 MB [pillow 6.0 MB, "
            "psycopg2 3.0 MB, demo_app ") in line
    assert "is left untagged" in line
    assert "demo:1" not in fake.images and not fake.called("tag")
    assert "total / floor" not in out  # the report of an image that failed is not printed


def test_over_several_budgets_names_each_in_the_one_line(
    fake: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = pack(capsys, "--max-size", "1GB", "--max-compressed-size", "10kB",
                        "--max-system-packages", "2")
    assert code == 6
    line = error_line(err)
    assert "max-size" not in line  # within it: not named
    kb = Size(10_000, "kB").show
    total = kb(sum(gzipped(index) for index in range(len(LAYERS))))
    # base's one layer, the interpreter's one, then pack's by their instructions.
    biggest = ", ".join([f"base {kb(gzipped(0))}", f"interpreter {kb(gzipped(1))}",
                         f"venv {kb(gzipped(3) + gzipped(5))}"])
    assert (f"compressed size {total} > max-compressed-size 10 kB (gzip of each layer; "
            f"biggest: {biggest})") in line
    assert ("system packages 3 > max-system-packages 2 (added to snakepacker/python:3.12; "
            "biggest: libpq5 0.9 MB, libldap-2.5-0 0.6 MB, libsasl2-2 0.2 MB)") in line
    assert "demo:1" not in fake.images


def test_a_distroless_image_names_the_venvs_biggest_distributions(
    fake: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    """One layer from scratch has no buckets: what the venv holds is what can be told."""
    code, _, err = pack(capsys, "--distroless", "--max-size", "100MB")
    assert code == 6
    assert ("size 150.0 MB > max-size 100 MB (biggest: pillow 6.0 MB, psycopg2 3.0 MB, "
            "demo_app ") in error_line(err)


def test_a_platform_over_budget_takes_the_tags_of_those_packed_before() -> None:
    engine = FakeEngine(images={"demo:1": "sha256:a", "demo:1-arm64": "sha256:b"})
    raised = pack_command.over_budget(engine, BudgetError("demo:1-arm64 is over budget"),
                                      ["demo:1"])
    assert engine.called("remove") == [(("demo:1",),)]
    assert "demo:1" not in engine.images and raised.exit_code == 6
    assert str(raised).startswith("demo:1-arm64 is over budget; this pack's tags")
    alone = BudgetError("over")
    assert pack_command.over_budget(engine, alone, []) is alone
