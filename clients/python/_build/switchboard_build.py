"""The build backend of this package (PEP 517), standard library only: `pip wheel clients/python` and
`pip install clients/python` need no package index, not even for an isolated build, because there is nothing to
fetch (`requires = []` in pyproject.toml). It writes a pure-Python wheel of the `switchboard` folder, an sdist,
and an editable wheel (PEP 660) that puts this folder on `sys.path`.

The metadata is pyproject.toml's `[project]` table; on Python < 3.11, which has no `tomllib`, its lines are read
as `key = value` with Python literals, which the table keeps to (one line each, double-quoted strings, arrays).
"""

import ast
import base64
import hashlib
import io
import os
import re
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "switchboard"
TAG = "py3-none-any"

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]


def _project() -> dict[str, Any]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if sys.version_info >= (3, 11):
        import tomllib

        project: dict[str, Any] = tomllib.loads(text)["project"]
        return project
    return _project_lines(text)


def _project_lines(text: str) -> dict[str, Any]:
    """The `[project]` table read as `key = value` lines with Python literals (for Python < 3.11)."""
    table: dict[str, Any] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "project" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            table[key.strip()] = ast.literal_eval(value.strip())
    return table


def _names() -> tuple[dict[str, Any], str, str]:
    project = _project()
    # The file names' form of the distribution name (PEP 427, PEP 625).
    dist = re.sub(r"[-_.]+", "_", project["name"]).lower()
    return project, dist, str(project["version"])


def _metadata(project: dict[str, Any]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"License: {project['license']}",
        f"Requires-Python: {project['requires-python']}",
        *(f"Classifier: {c}" for c in project.get("classifiers", [])),
        *(f"Requires-Dist: {d}" for d in project.get("dependencies", [])),
        "Description-Content-Type: text/markdown",
    ]
    readme = (ROOT / str(project["readme"])).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n\n" + readme


def _sources() -> list[Path]:
    """The package's files: its modules and py.typed, without caches."""
    folder = ROOT / PACKAGE
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_wheel(directory: str, files: dict[str, bytes]) -> str:
    project, dist, version = _names()
    info = f"{dist}-{version}.dist-info"
    files = {
        **files,
        f"{info}/METADATA": _metadata(project).encode("utf-8"),
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: switchboard_build\nRoot-Is-Purelib: true\nTag: {TAG}\n".encode()
        ),
    }
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data in files.items()) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode("utf-8")
    name = f"{dist}-{version}-{TAG}.whl"
    # A fixed time for every entry, so that building twice gives the same bytes.
    stamp = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, stamp)
            entry.external_attr = 0o644 << 16
            wheel.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return name


def get_requires_for_build_wheel(config_settings: Optional[dict[str, Any]] = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict[str, Any]] = None) -> list[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[dict[str, Any]] = None) -> list[str]:
    return []


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    files = {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in _sources()}
    return _write_wheel(wheel_directory, files)


def build_editable(
    wheel_directory: str,
    config_settings: Optional[dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    _, dist, _ = _names()
    return _write_wheel(wheel_directory, {f"__editable__.{dist}.pth": f"{ROOT}\n".encode("utf-8")})


def build_sdist(sdist_directory: str, config_settings: Optional[dict[str, Any]] = None) -> str:
    project, dist, version = _names()
    base = f"{dist}-{version}"
    files = {
        "PKG-INFO": _metadata(project).encode("utf-8"),
        "pyproject.toml": (ROOT / "pyproject.toml").read_bytes(),
        project["readme"]: (ROOT / project["readme"]).read_bytes(),
        "_build/switchboard_build.py": Path(__file__).read_bytes(),
        **{p.relative_to(ROOT).as_posix(): p.read_bytes() for p in _sources()},
    }
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as sdist:
        for path, data in files.items():
            entry = tarfile.TarInfo(f"{base}/{path}")
            entry.size = len(data)
            entry.mtime = int(time.time())
            entry.mode = 0o644
            sdist.addfile(entry, io.BytesIO(data))
    return name
