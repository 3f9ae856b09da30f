"""An archive mirror that needs a login: apt-install gets it as a build secret, and no
layer holds it.

A small HTTP mirror on this machine asks for a login and passes every request it lets
in on to the archive the family's images use. A build whose sources name it installs a
package through apt-install with the login given as the `apt-auth` secret, in the
format snakepacker writes for the mirrors configured with one; the same build without
the secret is refused at the door.
"""

from __future__ import annotations

import base64
import http.server
import socket
import struct
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker.images.mirrors import auth_conf
from tests.engine.test_hostile import layers_hold
from tests.helpers import Docker, untag

USER, PASSWORD = "snake", "mirror-Pa55-word-7e1f"


def _gateway(docker: Docker, image: str) -> str:
    """The address build containers reach this machine at: the bridge's gateway, as the
    network names it, else as a container's default route has it (a daemon started on a
    docker0 that was already there records no gateway in the network's settings)."""
    named = docker("network", "inspect", "bridge", "--format",
                   "{{(index .IPAM.Config 0).Gateway}}").stdout.strip()
    if named:
        return named
    routes = docker.run(image, ["cat", "/proc/net/route"], "--entrypoint", "").stdout
    for line in routes.splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":  # the default route; its gateway in host byte order
            return socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
    raise AssertionError(f"no default route in a container:\n{routes}")


def _upstream(docker: Docker, image: str) -> str:
    """The archive IMAGE's apt uses (its first deb line's URL)."""
    sources = docker.run(image, ["cat", "/etc/apt/sources.list"], "--entrypoint", "").stdout
    return next(line.split()[1] for line in sources.splitlines() if line.startswith("deb "))


@pytest.fixture
def mirror(docker: Docker, family_images: dict[str, str]) -> Iterator[tuple[str, list[int]]]:
    """A login-only mirror on the bridge's gateway: its URL, and the statuses it gave."""
    upstream = _upstream(docker, family_images["base"]).rstrip("/")
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    statuses: list[int] = []
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                statuses.append(401)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="mirror"')
                self.end_headers()
                return
            path = self.path.removeprefix("/archive")
            try:
                with direct.open(upstream + path, timeout=60) as answer:
                    body = answer.read()
            except OSError:
                statuses.append(404)
                self.send_response(404)
                self.end_headers()
                return
            statuses.append(200)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gateway = _gateway(docker, family_images["base"])
        yield f"http://{gateway}:{server.server_address[1]}/archive", statuses
    finally:
        server.shutdown()
        server.server_close()


def test_apt_install_logs_in_with_the_secret_and_keeps_it_out_of_layers(
    docker: Docker, family_images: dict[str, str], mirror: tuple[str, list[int]],
    tmp_path: Path
) -> None:
    url, statuses = mirror
    host_part = url.split("//", 1)[1]
    auth = tmp_path / "apt-auth"
    auth.write_text(auth_conf({"SNAKEPACKER_UBUNTU_MIRROR":
                               f"http://{USER}:{PASSWORD}@{host_part}"}))
    assert PASSWORD in auth.read_text() and f"machine {url} " in auth.read_text()
    (tmp_path / "Dockerfile").write_text(
        f"FROM {family_images['base']}\n"
        f"RUN printf 'deb {url} jammy main\\n' > /etc/apt/sources.list\n"
        "RUN --mount=type=secret,id=apt-auth,target=/run/secrets/apt-auth apt-install hello\n")
    tag = "snakepacker-test/mirror-login:pytest"
    try:
        refused = docker("build", "--progress=plain", "-t", tag, str(tmp_path), check=False,
                         timeout=600)
        assert refused.returncode != 0 and 401 in statuses and 200 not in statuses
        docker("build", "--progress=plain", "--secret", f"id=apt-auth,src={auth}", "-t", tag,
               str(tmp_path), timeout=600)
        assert 200 in statuses
        assert docker.run(tag, ["hello"], "--entrypoint", "").stdout.strip() == "Hello, world!"
        assert layers_hold(docker, tag, PASSWORD.encode()) == []
    finally:
        untag(docker, tag)
