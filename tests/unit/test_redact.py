"""Secrets snakepacker knows never reach what it prints; loopback is parsed, not prefixed."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from snakepacker import redact, refs

PASSWORD = "hunter2-but-longer"
TOKEN = "a1b2c3d4e5f6g7h8i9j0"


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    redact.forget()
    yield
    redact.forget()


def test_an_index_urls_credentials_and_path_tokens_are_masked() -> None:
    redact.register_url(f"https://user:{PASSWORD}@idx.invalid/{TOKEN}/simple/")
    line = (f"error: Failed to fetch https://user:{PASSWORD}@idx.invalid/{TOKEN}/simple/x "
            f"(password {PASSWORD}, token {TOKEN})")
    out = redact.text(line)
    assert PASSWORD not in out and TOKEN not in out
    # The URL as registered goes whole; what follows it, and each part on its own, stay
    # readable around the masks.
    assert out == "error: Failed to fetch ***/x (password ***, token ***)"


def test_a_token_as_the_user_and_a_percent_encoded_password() -> None:
    redact.register_url("https://tok%2Fen-1234567@idx.invalid/simple")
    assert redact.text("tok/en-1234567 and tok%2Fen-1234567") == "*** and ***"


def test_mirror_variables_and_the_cosign_password_are_known() -> None:
    redact.register_environment([("SNAKEPACKER_DEBIAN_MIRROR", f"http://u:{PASSWORD}@m.invalid/d"),
                                 ("COSIGN_PASSWORD", "key-pass-phrase")])
    assert redact.text(f"{PASSWORD} key-pass-phrase") == "*** ***"


def test_the_command_line_masks_what_it_prints(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """main() writes through the masking streams: a command that prints the index URL
    (as an installer's failure does) shows it masked on stdout and stderr alike."""
    import argparse

    from snakepacker.cli import main as cli

    url = f"https://user:{PASSWORD}@idx.invalid/{TOKEN}/simple"

    def run(_args: argparse.Namespace) -> int:
        redact.register_url(url)  # as reading --index-url does
        print(f"fetching {url}")
        print(f"error: {url} refused", file=sys.stderr)
        return 0

    from snakepacker.cli import images_list

    monkeypatch.setattr(images_list, "run", run)
    assert cli.main(["images", "list"]) == 0
    out, err = capsys.readouterr()
    assert "fetching " in out and "refused" in err
    assert PASSWORD not in out + err and TOKEN not in out + err


@pytest.mark.parametrize(("ref", "loopback"), [
    ("localhost:5000/a/b:1", True), ("127.0.0.1:5000/a:1", True), ("127.8.9.10/a:1", True),
    ("[::1]:5000/a:1", True), ("localhost/a", True),
    ("127.attacker.example/a:1", False), ("localhost.attacker.example:5000/a:1", False),
    ("localhostregistry.io/a:1", False), ("ghcr.io/a/b:1", False), ("a/b:1", False),
    ("128.0.0.1:5000/a", False), ("[::2]:5000/a", False),
])
def test_only_loopback_itself_skips_tls(ref: str, loopback: bool) -> None:
    assert refs.is_loopback(ref) is loopback


def test_refs_split_into_repository_tag_and_digest() -> None:
    assert refs.repository("127.0.0.1:5000/sp/python:3.12") == "127.0.0.1:5000/sp/python"
    assert refs.repository("127.0.0.1:5000/a/b@sha256:" + "0" * 64) == "127.0.0.1:5000/a/b"
    assert refs.tag_of("127.0.0.1:5000/a/b") == "latest"
    assert refs.by_digest("127.0.0.1:5000/a/b:x", "sha256:1") == "127.0.0.1:5000/a/b@sha256:1"
    assert refs.registry_host("ghcr.io/a/b:1") == "ghcr.io" and refs.registry_host("a/b") == ""
