"""Shared fixtures: where the built programs are and how to reach the services.

The services (Kafka, PostgreSQL, auditd) are started by scripts/test.sh through
deploy/local/services.sh; these tests fail, not skip, when they are missing,
because a green run without them would prove nothing."""
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def build_dir():
    d = pathlib.Path(os.environ.get("ARMORSMITH_BUILD_DIR", REPO / "build"))
    if not (d / "bin" / "armorsmith").exists():
        pytest.fail(f"no armorsmith build in {d}; run scripts/build.sh first")
    return d


@pytest.fixture(scope="session")
def bin_dir(build_dir):
    return build_dir / "bin"


@pytest.fixture(scope="session")
def services_env():
    env = dict(os.environ)
    out = subprocess.run([str(REPO / "deploy/local/services.sh"), "env"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            env.setdefault(k, v.strip("'"))
    status = subprocess.run([str(REPO / "deploy/local/services.sh"), "status"],
                            capture_output=True, text=True)
    if status.returncode != 0:
        pytest.fail("local services are not running (deploy/local/services.sh up):\n"
                    + status.stdout + status.stderr)
    return env


def shared_dir():
    d = pathlib.Path(os.environ.get("ARMORSMITH_SHARED_DIR", REPO.parent / "shared"))
    return d if d.is_dir() else None


@pytest.fixture
def tool():
    def find(name):
        path = shutil.which(name)
        if not path:
            pytest.fail(f"{name} is not installed; scripts/install-deps.sh installs it")
        return path
    return find
