"""requirements.txt pins every requirement of pyproject.toml at a version inside its range."""

import os
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _declared_requirements() -> list[Requirement]:
  with open(os.path.join(REPO, "pyproject.toml"), "rb") as file:
    project = tomllib.load(file)["project"]
  lines = list(project["dependencies"])
  for extra in project["optional-dependencies"].values():
    lines.extend(extra)
  own_name = canonicalize_name(project["name"])
  return [r for r in map(Requirement, lines) if canonicalize_name(r.name) != own_name]


def _pinned_versions() -> dict[str, Version]:
  pins = {}
  with open(os.path.join(REPO, "requirements.txt")) as file:
    for line in file:
      line = line.split("#", 1)[0].strip()
      if line:
        name, version = line.split("==")
        pins[canonicalize_name(name)] = Version(version)
  return pins


def test_every_requirement_is_pinned_inside_its_range():
  pins = _pinned_versions()
  declared = _declared_requirements()
  assert len(declared) >= 20
  for requirement in declared:
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement.name} is not in requirements.txt"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"requirements.txt pins {name}=={pins[name]}, outside {requirement}")


def test_pins_are_exact_versions_only():
  with open(os.path.join(REPO, "requirements.txt")) as file:
    pinned = [line for line in file if line.strip() and not line.lstrip().startswith("#")]
  assert pinned and all("==" in line and ">" not in line and "<" not in line for line in pinned)
