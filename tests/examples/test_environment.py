"""environment.yml (conda) names every requirement of pyproject.toml, with the same version bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PIP_EXTRAS_IN_CONDA = {"moto[server]": {"flask", "flask-cors"}}
CONDA_NAMES = {"python-blosc": "blosc"}  # conda-forge name -> PyPI name


def _split(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(3).replace(" ", "")


def _pyproject_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        found.extend(r for r in extra if not r.startswith("zarrlayer["))
    return [r.split(";")[0] for r in found if _applies_to_lowest_python(r, project["requires-python"])]


def _applies_to_lowest_python(requirement: str, requires_python: str) -> bool:
    """environment.yml pins the lowest supported Python: keep a marked requirement only where it applies there."""
    from packaging.requirements import Requirement

    marker = Requirement(requirement).marker
    return marker is None or marker.evaluate({"python_version": requires_python.removeprefix(">=")})


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pairs = (_split(d.split("#")[0]) for d in env["dependencies"] if isinstance(d, str))
    return {CONDA_NAMES.get(name, name): bounds for name, bounds in pairs}


def test_every_pyproject_requirement_is_in_environment_yml() -> None:
    conda = _conda_requirements()
    missing, different = [], []
    for requirement in _pyproject_requirements():
        name, bounds = _split(requirement)
        if name not in conda:
            missing.append(requirement)
        elif conda[name] != bounds:
            different.append(f"{requirement} (environment.yml: {name}{conda[name]})")
        for extra_package in PIP_EXTRAS_IN_CONDA.get(requirement.split(">")[0].split("<")[0], ()):
            if extra_package not in conda:
                missing.append(f"{extra_package} (for {requirement})")
    assert not missing, f"environment.yml lacks {missing}"
    assert not different, f"version bounds differ: {different}"


def test_python_bounds_match() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lower = project["requires-python"].removeprefix(">=")
    assert _conda_requirements()["python"].startswith(f">={lower}")
