"""What `snakepacker images push` sends: a first push of a family slice, then a second
push of the same, unchanged build (the goal: only lists move, no layer goes up twice).

    .venv/bin/python bench/push.py [--tags base,3.11] [--distro bookworm] [--minors 3.11]
                                   [--platform linux/amd64] [--namespace sptest-bench]

Starts Debian's docker-registry on a free loopback port with a fresh storage directory,
runs the real command line twice, and prints one table: seconds, blob uploads the
registry received (from its request log), manifests written, and bytes its storage
grew by. The images must be built already (the push builds what is missing, with the
engine's cache, but a cold build would swamp the numbers). Then each pushed tag's list
as the registry serves it: every entry's platform fields (os, architecture, variant)
and digest, so a multi-platform push (`--platform linux/amd64,linux/arm64,linux/arm/v7`)
is read back.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CONFIG = """version: 0.1
storage:
  filesystem:
    rootdirectory: {storage}
http:
  addr: {address}
"""

UPLOAD = re.compile(r'"PUT /v2/[^ ]+/blobs/uploads/')
MANIFEST = re.compile(r'"PUT /v2/[^ ]+/manifests/')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(address: str) -> bool:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with direct.open(f"http://{address}/v2/", timeout=2):
            return True
    except OSError:
        return False


def storage_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", default="base,3.11")
    parser.add_argument("--distro", default="bookworm")
    parser.add_argument("--minors", default="3.11")
    parser.add_argument("--platform", default="")
    parser.add_argument("--namespace", default="sptest-bench")
    args = parser.parse_args()
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("needs docker-registry (scripts/setup installs it)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="snakepacker-bench-registry-") as tmp:
        work = Path(tmp)
        address = f"127.0.0.1:{free_port()}"
        (work / "config.yml").write_text(CONFIG.format(storage=work / "storage",
                                                       address=address))
        log_path = work / "registry.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen([binary, "serve", str(work / "config.yml")],
                                      stdout=log, stderr=log)
            try:
                while not _answers(address):
                    time.sleep(0.1)
                command = [sys.executable, "-m", "snakepacker", "images", "push",
                           *args.tags.split(","), "--distro", args.distro, "--minors",
                           args.minors, "--namespace", args.namespace,
                           "--registry", f"{address}/ghcr", "--hub", address]
                if args.platform:
                    command += ["--platform", args.platform]
                for run in ("first push", "second push"):
                    uploads = len(UPLOAD.findall(log_path.read_text(errors="replace")))
                    manifests = len(MANIFEST.findall(log_path.read_text(errors="replace")))
                    size = storage_bytes(work / "storage")
                    started = time.monotonic()
                    proc = subprocess.run(command, capture_output=True, text=True,
                                          env=os.environ)
                    seconds = time.monotonic() - started
                    if proc.returncode != 0:
                        raise SystemExit(f"{run} failed:\n{proc.stderr[-3000:]}")
                    text = log_path.read_text(errors="replace")
                    rows.append((run, seconds, len(UPLOAD.findall(text)) - uploads,
                                 len(MANIFEST.findall(text)) - manifests,
                                 storage_bytes(work / "storage") - size))
                    print(proc.stdout, file=sys.stderr)
                lists = read_lists(f"{address}/ghcr/{args.namespace}/python", proc.stdout)
            finally:
                server.terminate()
                server.wait()
    print(f"{'run':12}  {'seconds':>8}  {'blob uploads':>12}  {'manifests':>9}  "
          f"{'storage grew':>14}")
    for run, seconds, uploads, manifests, grew in rows:
        print(f"{run:12}  {seconds:8.1f}  {uploads:12d}  {manifests:9d}  {grew / 1e6:11.1f} MB")
    print("\n".join(lists))
    return 0


def read_lists(repository: str, summary: str) -> list[str]:
    """Each tag of an `images push` SUMMARY, read back from REPOSITORY: one line per
    list entry with its platform fields exactly as the list states them."""
    from snakepacker.engine.skopeo import raw_manifest

    lines = [f"{'tag':<22}{'os':<7}{'architecture':<14}{'variant':<9}digest"]
    for row in summary.strip().splitlines()[1:]:
        tag = row.split()[0]
        manifest = json.loads(raw_manifest(f"{repository}:{tag}"))
        for entry in manifest.get("manifests", []):
            fields = entry.get("platform", {})
            lines.append(f"{tag:<22}{fields.get('os', '-'):<7}"
                         f"{fields.get('architecture', '-'):<14}"
                         f"{fields.get('variant', '-'):<9}{entry['digest'][:19]}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
