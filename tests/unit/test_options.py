"""The options table: one order for every command, help and README made from it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from snakepacker import options as opts
from snakepacker.cli.main import build_parser, main
from snakepacker.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def pack_values(cli: dict[str, object] | None = None, env: dict[str, str] | None = None,
                tool: dict[str, object] | None = None) -> opts.Values:
    return opts.read(opts.PACK, cli or {}, env=env or {}, pyproject=tool or {})


@pytest.mark.parametrize(("name", "tool", "env", "cli", "expected"), [
    ("installer", "pip", "uv", None, "uv"),
    ("python", "3.10", "3.11", "3.12", "3.12"),
    ("minors", ["3.10"], "3.11,3.12", None, ("3.11", "3.12")),
    ("keep-pip", True, "0", None, False),
    ("keep-pip", False, "yes", None, True),
    ("apt", ["ffmpeg"], None, ["curl,git"], ("curl", "git")),
    ("entrypoint", ["a", "b c"], "x --y", None, ("x", "--y")),
    ("env", {"A": "1"}, "B=2\nC=3", None, (("B", "2"), ("C", "3"))),
    ("workdir", "/fromtoml", None, None, "/fromtoml"),
])
def test_defaults_then_pyproject_then_environment_then_command_line(
    name: str, tool: object, env: str | None, cli: object, expected: object
) -> None:
    option = opts.BY_NAME[name]
    values = pack_values(
        {option.dest: cli} if cli is not None else None,
        {option.env: env} if env is not None else None,
        {option.toml_key: tool},
    )
    assert values[name] == expected


def test_an_unset_option_keeps_its_default_and_says_so() -> None:
    values = pack_values()
    assert values["installer"] == "uv" and not values.given("installer")
    assert values["minors"] == () and not values.given("minors")
    assert pack_values(env={"SNAKEPACKER_MINORS": "3.12"}).given("minors")


def test_every_option_has_one_environment_name_and_one_key() -> None:
    envs = [o.env for o in opts.OPTIONS]
    keys = [o.toml_key for o in opts.OPTIONS if o.toml_key]
    assert len(envs) == len(set(envs)) and len(keys) == len(set(keys))
    assert all(re.fullmatch(r"SNAKEPACKER_[A-Z_]+", env) for env in envs)


def test_ca_certificates_come_from_the_variable_scripts_test_exports() -> None:
    """scripts/test and the README name SNAKEPACKER_CA_CERTS: a list split like PATH,
    which --ca-cert replaces."""
    env = {"SNAKEPACKER_CA_CERTS": os.pathsep.join(["/a.pem", "/b.pem"])}
    values = opts.read(opts.BUILD, {}, env=env)
    assert values["ca-certs"] == ("/a.pem", "/b.pem") and values.given("ca-certs")
    args = build_parser().parse_args(["images", "build", "base", "--ca-cert", "/c.pem"])
    assert opts.read(opts.BUILD, args, env=env)["ca-certs"] == ("/c.pem",)
    assert "SNAKEPACKER_CA_CERTS" in (ROOT / "scripts" / "test").read_text()


@pytest.mark.parametrize("key", ["ca-certs", "ca_certs", "index-url", "cpython-mirror",
                                 "registry", "hub", "namespace", "root-image"])
def test_a_project_cannot_set_what_carries_trust(key: str) -> None:
    """A pyproject.toml is the project's, and the project is untrusted: a CA bundle that
    is the packer's environment (/proc/self/environ), an index, a mirror or a registry
    named there is refused with one line naming where it must come from."""
    option = opts.BY_NAME[key.replace("_", "-")]
    with pytest.raises(UsageError, match=f"'{key}' carries trust, so it is read from "
                                         f"{option.flag} or {option.env} only"):
        pack_values(tool={key: "/proc/self/environ"})
    assert option.toml_key is None


def test_a_project_file_named_in_pyproject_stays_inside_the_project(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "cpython.tar.xz").write_bytes(b"x")
    (project / "escape.tar.xz").symlink_to("/etc/hostname")
    values = opts.read(opts.PACK, {}, env={}, pyproject={"cpython": ["cpython.tar.xz"]},
                       project_dir=project)
    assert values["cpython"] == (str(project / "cpython.tar.xz"),)
    for name, why in (("../x.tar.xz", "not a path inside the project"),
                      ("/etc/passwd.tar.gz", "not a path inside the project"),
                      ("escape.tar.xz", "a link that leads out of the project"),
                      ("missing.tar.xz", "no such file in the project")):
        with pytest.raises(UsageError, match=why):
            opts.read(opts.PACK, {}, env={}, pyproject={"cpython": [name]}, project_dir=project)


def test_unknown_pyproject_keys_get_a_hint() -> None:
    with pytest.raises(UsageError, match="unknown key 'instaler'; did you mean 'installer'"):
        pack_values(tool={"instaler": "pip"})
    with pytest.raises(UsageError, match=r"unknown key 'zzz' \(known: "):
        pack_values(tool={"zzz": 1})
    with pytest.raises(UsageError, match="unknown key 'engine'"):
        pack_values(tool={"engine": "podman"})  # a machine's choice, not a project's


@pytest.mark.parametrize(("key", "value"), [
    ("python", 3.12), ("keep-pip", "yes"), ("apt", {"a": 1}), ("env", ["A=1"]),
    ("entrypoint", 5), ("port", [1.5]),
])
def test_pyproject_values_of_the_wrong_type(key: str, value: object) -> None:
    with pytest.raises(UsageError, match=f"{key} has the wrong type"):
        pack_values(tool={key: value})


def test_bad_yes_no_in_the_environment() -> None:
    with pytest.raises(UsageError, match="SNAKEPACKER_KEEP_PIP='maybe'"):
        pack_values(env={"SNAKEPACKER_KEEP_PIP": "maybe"})


def test_bootstrap_reads_the_namespace_from_the_environment() -> None:
    values = opts.read(opts.BOOTSTRAP, {}, env={"SNAKEPACKER_NAMESPACE": "acme"})
    assert values["namespace"] == "acme"
    values = opts.read(opts.BOOTSTRAP, {"namespace": "cli"}, env={"SNAKEPACKER_NAMESPACE": "acme"})
    assert values["namespace"] == "cli"


@pytest.mark.parametrize("command", ["images list", "images dockerfile", "images build",
                                     "bootstrap", "pack"])
def test_help_names_each_options_environment_variable(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command.split(), "--help"])
    assert exited.value.code == 0
    out = re.sub(r"\s+", " ", capsys.readouterr().out)
    for option in opts.options_of(command):
        assert option.flag in out and option.env in out, option.name
        if command == "pack" and option.toml_key:
            assert f"{option.toml_key} =" in out


def test_every_option_is_in_the_parser_of_its_commands() -> None:
    parser = build_parser()
    for option in opts.OPTIONS:
        for command in option.commands:
            positional = {"images dockerfile": ["x"], "bootstrap": ["x"], "pack": ["x"],
                          "sbom": ["x"], "images diff": ["x", "y"], "images merge": ["x"],
                          "verify": ["x"]}
            args = parser.parse_args([*command.split(), *positional.get(command, [])])
            assert hasattr(args, option.dest), (command, option.name)


def test_the_readme_option_reference_is_the_table() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- options:start -->\n", 1)[1].split("<!-- options:end -->", 1)[0]
    assert block == opts.reference_markdown(), (
        "README's option reference is stale: replace it with "
        "`python -m snakepacker.options`")


def test_no_option_takes_the_name_of_a_machine_setting() -> None:
    """An option reading SNAKEPACKER_CACHE once turned every tarball cache path into a
    bad yes/no value: the table's names and the machine's settings stay apart."""
    assert not {o.env for o in opts.OPTIONS} & set(opts.MACHINE_ENVIRONMENT)
    build_args = {"SNAKEPACKER_CREATED", "SNAKEPACKER_REVISION", "SNAKEPACKER_PARENT",
                  "SNAKEPACKER_NETWORK", "SNAKEPACKER_ENV_"}
    known = {o.env for o in opts.OPTIONS} | set(opts.MACHINE_ENVIRONMENT) | build_args
    src = ROOT / "src" / "snakepacker"
    named = {name for path in src.rglob("*.py") if path.name != "options.py"
             for name in re.findall(r"SNAKEPACKER_[A-Z_]+", path.read_text())}
    assert named <= known, sorted(named - known)
