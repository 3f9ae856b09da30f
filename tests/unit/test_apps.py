"""Application recipes: data checks and the Dockerfiles they render (no engine)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from snakepacker.errors import UsageError
from snakepacker.family.apps import APPS
from snakepacker.family.images import Family, ImageKind
from snakepacker.images.render import render_image
from snakepacker.options import family_from

NAMES = ("pylama", "pylava", "ipython", "certbot", "black", "gray", "ruff", "ruff-distroless",
         "black-distroless", "uv", "jupyterlab")


def family(apps=APPS, **values: object) -> Family:
    return Family(family_from(values), apps)


def test_the_eight_apps_are_images_of_kind_app_with_the_three_names() -> None:
    fam = family()
    assert [i.name for i in fam if i.kind is ImageKind.APP] == list(NAMES)
    assert fam.registry_names("ruff") == ("ghcr.io/snakepacker/python/ruff",
                                          "ghcr.io/snakepacker/python:ruff",
                                          "snakepacker/python:ruff")
    jupyter = fam.get("jupyterlab")
    assert jupyter.parent == "3.12-pillow" and jupyter.needs == ("all-pillow",)
    assert [i.name for i in fam.closure(["ruff"])] == ["base", "3.12", "all", "ruff"]


def test_a_recipe_that_mixes_pythons_is_rejected_when_the_family_loads() -> None:
    bad = dataclasses.replace(APPS[2], python="3.10")  # ipython's venv on 3.10, run on 3.12
    with pytest.raises(UsageError, match=r"app ipython: its venv is made with Python 3\.10 "
                                         r"but it runs on 3\.12"):
        family(apps=[*APPS[:2], bad, *APPS[3:]])


def test_recipes_need_a_command_and_a_unique_name() -> None:
    with pytest.raises(UsageError, match="no entrypoint and no cmd"):
        family(apps=[dataclasses.replace(APPS[0], entrypoint=None, cmd=None)])
    with pytest.raises(UsageError, match="defined twice"):
        family(apps=[APPS[0], APPS[0]])


def test_every_recipe_uses_the_same_minor_in_both_stages() -> None:
    fam = family()
    for recipe in APPS:
        text = render_image(fam, fam.get(recipe.name)).dockerfile
        froms = re.findall(r"^FROM (\S+)", text, re.M)
        tail = ["runtime", "scratch"] if recipe.distroless else []
        assert froms == [fam.ref("all-pillow" if recipe.pillow else "all"), "build",
                         fam.ref(recipe.target), *tail]
        assert f"{fam.options.python(recipe.python).executable} -m venv" in text


def test_narrowing_the_family_drops_apps_of_other_minors() -> None:
    names = {i.name for i in family(minors="3.12") if i.kind is ImageKind.APP}
    assert names == set(NAMES) - {"pylava"}


@pytest.mark.parametrize("name", ["black", "gray", "pylama", "pylava", "ruff"])
def test_checkers_work_in_app_with_their_tool_as_entry_point(name: str) -> None:
    fam = family()
    text = render_image(fam, fam.get(name)).dockerfile
    assert "WORKDIR /app" in text
    assert re.search(rf'^ENTRYPOINT \["dumb-init", "--", "{name}"', text, re.M)
    assert "USER 10001:10001" in text


def test_jupyterlab_serves_as_non_root_on_8888_with_writable_state_in_tmp() -> None:
    fam = family()
    text = render_image(fam, fam.get("jupyterlab")).dockerfile
    assert 'CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"]' in text
    assert "EXPOSE 8888" in text and "USER 10001:10001" in text
    assert 'JUPYTER_RUNTIME_DIR="/tmp/jupyter/runtime"' in text


def test_certbot_has_its_volumes_ports_and_entry_point() -> None:
    fam = family()
    text = render_image(fam, fam.get("certbot")).dockerfile
    assert 'VOLUME ["/etc/letsencrypt", "/var/lib/letsencrypt"]' in text
    assert "EXPOSE 80 443" in text and 'ENTRYPOINT ["dumb-init", "--", "certbot"]' in text
    assert "\nUSER " not in text


def test_pins_are_installed_with_the_app_and_setuptools_is_kept_where_needed() -> None:
    fam = family()
    text = render_image(fam, fam.get("pylava")).dockerfile
    assert "pylava==0.3.0 'pyflakes<2.2' 'pycodestyle<2.10' 'setuptools<81'" in text
    assert "uninstall" not in text
    assert "uninstall" in render_image(fam, fam.get("ruff")).dockerfile
