"""The GitHub Action's steps that are more than one command (action.yml runs them).

    steps.py prepare        check the inputs, say whether a foreign platform is asked
                            for, and pull the family images pack will build on that the
                            engine lacks (family: pull)
    steps.py argv           pack's arguments from the inputs, NUL-separated, for bash
    steps.py outputs        the image, its digests and the SBOM file, after pack
    steps.py sign-keyless   cosign's keyless signatures on what was pushed

The inputs arrive in the environment (INPUT_SOURCE, INPUT_TAGS, ...), set by action.yml
from the action's inputs, never pasted into a script's text; results go to the file
$GITHUB_OUTPUT names. A problem the user can act on is one error annotation and exit 1.
It runs with the action's own snakepacker (standard library and snakepacker only).
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from snakepacker import options as opts
from snakepacker.cli.main import build_parser
from snakepacker.errors import SnakepackerError
from snakepacker.pack.project import inspect_source
from snakepacker.platforms import Platform, get_platform, native_platform, parse_platforms
from snakepacker.refs import repository, tag_of

BOOLEANS = ("true", "false")
FAMILY_MODES = ("pull", "present")
# What pack prints on stdout: one line per platform built, then, after a push, a table.
BUILT = re.compile(r"^(\S+) \((linux/[^)\s]+)\): Python ", re.MULTILINE)
SUMMARY_HEADER = ["TAG", "PLATFORMS", "DIGEST", "MOVED"]
DEFAULT_FAMILY_REGISTRY = "ghcr.io"
# pack's options that the action's own inputs set: not accepted in the args input.
OWN_OPTIONS = {"--tag": "tags", "--platform": "platforms", "--python": "python",
               "--push": "push", "--sign": "sign-key"}


class ActionError(Exception):
    """A problem with the inputs or the results: one line in the workflow's log."""


# -- the inputs ----------------------------------------------------------------------------


def text_input(name: str) -> str:
    return os.environ.get("INPUT_" + name.upper().replace("-", "_"), "").strip()


def flag_input(name: str) -> bool:
    value = text_input(name) or "false"
    if value not in BOOLEANS:
        raise ActionError(f"input {name}: {value!r} is neither true nor false")
    return value == "true"


def list_input(name: str) -> list[str]:
    """An input of several values, one a line or separated by commas."""
    return [part.strip() for part in re.split(r"[,\n]", text_input(name)) if part.strip()]


def extra_words() -> list[str]:
    """The args input, split as a shell splits words (no expansion: nothing is run).
    What the action has inputs for, and reads back after pack, is refused here."""
    try:
        words = shlex.split(text_input("args"))
    except ValueError as exc:
        raise ActionError(f"input args: {exc}") from None
    for word in words:
        option = word.split("=", 1)[0]
        if option == "--dockerfile":
            raise ActionError("input args: --dockerfile prints a Dockerfile; the action builds")
        if option in OWN_OPTIONS or (option.startswith("-t") and not option.startswith("--")):
            raise ActionError(f"input args: {option} has an input of its own "
                              f"({OWN_OPTIONS.get(option, 'tags')})")
    return words


def pack_argv() -> list[str]:
    """`snakepacker pack`'s arguments, the source last (after `--`, so a source that
    begins with a dash is still a source)."""
    argv: list[str] = []
    for tag in list_input("tags"):
        argv += ["--tag", tag]
    platforms = list_input("platforms")
    if platforms:
        argv += ["--platform", ",".join(platforms)]
    if text_input("python"):
        argv += ["--python", text_input("python")]
    if flag_input("push"):
        argv.append("--push")
    if text_input("sign-key"):
        argv += ["--sign", text_input("sign-key")]
    argv += extra_words()
    return [*argv, "--", text_input("source") or "."]


def check_inputs() -> None:
    push, keyless, key = flag_input("push"), flag_input("keyless"), text_input("sign-key")
    if key and keyless:
        raise ActionError("inputs sign-key and keyless: choose one way to sign")
    if (key or keyless) and not push:
        raise ActionError("signing signs what is pushed: set push: true as well")
    if key and not Path(key).is_file():
        raise ActionError(f"input sign-key: no key file at {key}")
    if family_mode() not in FAMILY_MODES:
        raise ActionError(f"input family: {text_input('family')!r} is not one of "
                          f"{', '.join(FAMILY_MODES)}")
    extra_words()


def family_mode() -> str:
    return text_input("family") or "pull"


# -- GITHUB_OUTPUT --------------------------------------------------------------------------


def write_outputs(values: dict[str, str]) -> None:
    """Append VALUES to $GITHUB_OUTPUT; a value of several lines gets a delimiter that
    cannot occur in it."""
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
        for name, value in values.items():
            if "\n" in value:
                delimiter = f"snakepacker_{secrets.token_hex(16)}"
                out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                out.write(f"{name}={value}\n")


# -- prepare: platforms and the family -------------------------------------------------------


def platforms_for(argv: Sequence[str]) -> tuple[Platform, ...]:
    """The platforms pack will build for, read as pack reads them: the command line,
    else SNAKEPACKER_PLATFORMS, else the project's [tool.snakepacker], else this
    machine's own (whether they can run here is pack's check, after QEMU is set up)."""
    args = build_parser().parse_args(["pack", *argv])
    project = inspect_source(args.source)
    values = opts.read(opts.PACK, args, pyproject=project.tool, project_dir=project.root)
    if values["platform"]:
        return parse_platforms(",".join(values["platform"]))
    return (native_platform(),)


def engine_client() -> str:
    """The engine's client, as snakepacker picks it when told (docker unless podman)."""
    if os.environ.get("SNAKEPACKER_ENGINE") == "podman":
        return os.environ.get("SNAKEPACKER_PODMAN") or "podman"
    return os.environ.get("SNAKEPACKER_DOCKER") or "docker"


def engine(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([engine_client(), *args], text=True, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL if quiet else None)
    if check and proc.returncode != 0:
        raise ActionError(f"{engine_client()} {' '.join(args)} failed (exit code "
                          f"{proc.returncode})")
    return proc


def present(ref: str) -> bool:
    return engine("image", "inspect", "--format", "{{.Id}}", ref, check=False,
                  quiet=True).returncode == 0


def family_refs(argv: Sequence[str]) -> list[str]:
    """The family images pack's Dockerfile builds FROM (NS/python:all, NS/python:3.12),
    read from `pack --dockerfile` with the same arguments. A requirement's entry point
    is known only once it is installed: a stand-in one changes no FROM line."""
    *options, dashes, source = argv
    proc = subprocess.run(
        [sys.executable, "-m", "snakepacker", "pack", *options, "--dockerfile",
         "--entrypoint", "true", dashes, source],
        text=True, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise ActionError("could not tell which family images pack needs (see the error "
                          "above)")
    refs: list[str] = []
    for line in proc.stdout.splitlines():
        words = line.split()
        if not words or words[0] != "FROM":
            continue
        image = next((w for w in words[1:] if not w.startswith("--")), "")
        if "/python:" in image and image not in refs:
            refs.append(image)
    return refs


def pull_family(argv: Sequence[str], platforms: Sequence[Platform], native: Platform) -> None:
    """Pull each family image pack needs that the engine lacks, for each platform, from
    where the family is published (SNAKEPACKER_REGISTRY, default ghcr.io), and give it
    the local name pack builds FROM: NS/python:TAG on this machine's platform,
    NS/python:TAG-arm64 on a foreign one (as `images build` names them)."""
    registry = os.environ.get("SNAKEPACKER_REGISTRY") or DEFAULT_FAMILY_REGISTRY
    ordered = sorted(platforms, key=lambda p: p != native)  # this machine's first
    for ref in family_refs(argv):
        published = f"{registry}/{ref}"
        for platform in ordered:
            local = ref if platform == native else f"{ref}-{platform.suffix}"
            if present(local):
                print(f"{local} is here", flush=True)
                continue
            print(f"pulling {published} for {platform.name} as {local}", flush=True)
            engine("pull", "--platform", platform.name, published)
            engine("tag", published, local)
            if platform != native:
                # The published name keeps naming this machine's image, if there is one.
                if present(ref):
                    engine("tag", ref, published)
                else:
                    engine("image", "rm", published)


def prepare() -> None:
    check_inputs()
    argv = pack_argv()
    platforms = platforms_for(argv)
    native = native_platform()
    foreign = [p.name for p in platforms if p != native]
    if foreign:
        print(f"foreign platforms: {', '.join(foreign)} (built under QEMU)", flush=True)
    write_outputs({"foreign": "true" if foreign else "false"})
    if family_mode() == "pull":
        pull_family(argv, platforms, native)


# -- after pack: the outputs -----------------------------------------------------------------


def pushed_digests(printed: str) -> dict[str, str]:
    """Tag -> list digest, from the table pack prints after pushing."""
    lines = printed.splitlines()
    for number, line in enumerate(lines):
        if line.split() != SUMMARY_HEADER:
            continue
        digests: dict[str, str] = {}
        for row in lines[number + 1:]:
            words = row.split()
            if len(words) < 4 or not words[2].startswith("sha256:"):
                break
            digests[words[0]] = words[2]
        if digests:
            return digests
    raise ActionError("pack pushed, but printed no table of digests")


def local_ref(tag: str, platform: Platform, native: Platform) -> str:
    """The local name of TAG's image for PLATFORM (pack suffixes a foreign one's)."""
    return tag if platform == native else f"{repository(tag)}:{tag_of(tag)}-{platform.suffix}"


def image_id(ref: str) -> str:
    found = engine("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    return found if found.startswith("sha256:") else f"sha256:{found}"


def sbom_path() -> Path:
    named = text_input("sbom-file")
    path = Path(named) if named else Path(os.environ["SNAKEPACKER_WORK"]) / "sbom.cdx.json"
    return path.absolute()


def outputs() -> None:
    printed = Path(os.environ["SNAKEPACKER_WORK"], "pack-output").read_text()
    built = [(tag, get_platform(name)) for tag, name in BUILT.findall(printed)]
    if not built:
        raise ActionError("pack printed no image it built")
    image = built[0][0]
    native = native_platform()
    platforms = [platform for _, platform in built]
    # The image the SBOM and the ids describe: this machine's, else the first built.
    platform = native if native in platforms else platforms[0]
    tags = list_input("tags") or [image]
    ids = {tag: image_id(local_ref(tag, platform, native)) for tag in tags}
    digests = pushed_digests(printed) if flag_input("push") else ids
    missing = [tag for tag in tags if tag not in digests]
    if missing:
        raise ActionError(f"pack printed no digest for {', '.join(missing)}")
    sbom = sbom_path()
    sbom.parent.mkdir(parents=True, exist_ok=True)
    with open(sbom, "w", encoding="utf-8") as out:
        proc = subprocess.run([sys.executable, "-m", "snakepacker", "sbom",
                               local_ref(tags[0], platform, native)],
                              stdout=out, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ActionError("snakepacker sbom failed (see the error above)")
    write_outputs({
        "image": image,
        "image-id": ids[tags[0]],
        "digest": digests[tags[0]],
        "digests": "\n".join(f"{tag} {digests[tag]}" for tag in tags),
        "sbom": str(sbom),
    })
    print(f"{tags[0]}: {digests[tags[0]]}; its SBOM ({platform.name}) is {sbom}")


# -- keyless signatures ----------------------------------------------------------------------


def keyless_targets(digests: str) -> dict[str, str]:
    """What a keyless signature covers, as --sign KEY does: each pushed list, and every
    platform's image in it, by digest -> the local image it was pushed from ("" for a
    list), whose SBOM and provenance are attested."""
    from snakepacker.engine import skopeo

    native = native_platform()
    targets: dict[str, str] = {}
    for line in digests.splitlines():
        if not line.strip():
            continue
        tag, digest = line.split()
        home = repository(tag)
        targets.setdefault(f"{home}@{digest}", "")
        for entry in skopeo.list_entries(f"{home}@{digest}"):
            targets.setdefault(f"{home}@{entry.digest}",
                               local_ref(tag, get_platform(entry.platform), native))
    return targets


def cosign_keyless(*args: str) -> None:
    """cosign with the job's OIDC identity, which it finds itself (id-token: write), each
    signature logged in the transparency log, where `cosign verify` checks it."""
    from snakepacker.ship.signing import cosign

    proc = subprocess.run([cosign(), *args], stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ActionError(f"cosign {args[0]} failed (see its output above; the job needs "
                          "permissions: id-token: write)")


def sign_keyless() -> None:
    """Sign every image and list pushed, then attest each image's SBOM and provenance."""
    from snakepacker.engine import find_engine
    from snakepacker.ship.shipping import image_predicates

    targets = keyless_targets(os.environ.get("DIGESTS", ""))
    if not targets:
        raise ActionError("nothing was pushed to sign")
    for ref in targets:
        print(f"signing {ref}", flush=True)
    cosign_keyless("sign", "--yes", *targets)
    predicates_of = image_predicates(find_engine(os.environ.get("SNAKEPACKER_ENGINE")
                                                 or "auto"))
    for ref, image in targets.items():
        if not image:
            continue
        for predicate in predicates_of(image):
            print(f"attesting the {predicate.kind} of {ref}", flush=True)
            path = Path(os.environ["SNAKEPACKER_WORK"], "predicate.json")
            path.write_bytes(predicate.document)
            cosign_keyless("attest", "--yes", "--replace", "--type", predicate.kind,
                           "--predicate", str(path), ref)


def argv_out() -> None:
    check_inputs()
    sys.stdout.write("".join(f"{word}\0" for word in pack_argv()))


STEPS = {"prepare": prepare, "argv": argv_out, "outputs": outputs,
         "sign-keyless": sign_keyless}


def main(args: Sequence[str]) -> int:
    if len(args) != 1 or args[0] not in STEPS:
        print(f"usage: steps.py {{{','.join(STEPS)}}}", file=sys.stderr)
        return 2
    try:
        STEPS[args[0]]()
    except (ActionError, SnakepackerError) as exc:
        # A workflow command: the line becomes an error annotation on the run.
        message = str(exc).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::error title=snakepacker::{message}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
