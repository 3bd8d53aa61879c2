"""scripts/install_openg2p.sh without installing anything: its help, its pins and its plan (--dry-run)
with sources from a mirror folder or from per-repository overrides. No network, no Odoo."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "install_openg2p.sh"
PIN_NAMES = ("ODOO_PIN", "REGISTRY_PIN", "PROGRAM_PIN", "COMMUNITY_PIN")


def run(*args, env=None, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENG2P_")}
    full_env.update(env or {})
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60
    )


def bare_repo(path):
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


@pytest.fixture
def mirrors(tmp_path):
    """A --source-dir holding the four repositories under the names the script looks for."""
    folder = tmp_path / "mirrors"
    folder.mkdir()
    bare_repo(folder / "odoo17.git")
    (folder / "OpenG2P+openg2p-registry").mkdir()
    bare_repo(folder / "OpenG2P+openg2p-registry" / "repo")
    bare_repo(folder / "openg2p-program")
    (folder / "OpenG2P+openg2p-social-registry-community-addons").mkdir()
    bare_repo(folder / "OpenG2P+openg2p-social-registry-community-addons" / "repo")
    return folder


def test_script_parses_and_is_shellcheck_clean():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run(["shellcheck", "-x", str(SCRIPT)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout


def test_sources_are_pinned_to_full_commits_and_default_to_public_https():
    text = SCRIPT.read_text()
    for name in PIN_NAMES:
        assert re.search(rf"^{name}=[0-9a-f]{{40}}\b", text, re.M), name
    for name in ("ODOO_URL", "REGISTRY_URL", "PROGRAM_URL", "COMMUNITY_URL"):
        assert re.search(rf"^{name}=https://github\.com/\S+\.git$", text, re.M), name
    assert "/work/" not in text  # no machine's mirror written in as a default


def test_help_names_the_options():
    proc = run("--help")
    assert proc.returncode == 0, proc.stderr
    for option in ("--home", "--source-dir", "--dry-run", "OPENG2P_ODOO_SRC", "OPENG2P_REGISTRY_SRC"):
        assert option in proc.stdout


def test_dry_run_takes_each_repository_from_the_source_dir(tmp_path, mirrors):
    home = tmp_path / "g2p"
    proc = run("--dry-run", "--home", str(home), "--source-dir", str(mirrors))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"home:             {home}" in out
    assert f"{home}/odoo <- {mirrors}/odoo17.git (main @ " in out
    assert f"{home}/openg2p-registry <- {mirrors}/OpenG2P+openg2p-registry/repo (17.0-develop @ " in out
    assert f"{home}/openg2p-program <- {mirrors}/openg2p-program (17.0-develop @ " in out
    community = f"{mirrors}/OpenG2P+openg2p-social-registry-community-addons/repo (17.0-develop @ "
    assert f"{home}/openg2p-social-registry-community-addons <- {community}" in out
    assert "openg2p-community-addons: component server_environment storage_backend storage_backend_s3" in out
    assert f"export OPENG2P_HOME={home}" in out
    assert not home.exists()  # a dry run changes nothing


def test_per_repository_override_beats_the_source_dir_and_home_comes_from_the_environment(tmp_path, mirrors):
    home = tmp_path / "elsewhere"
    proc = run(
        "--dry-run", "--source-dir", str(mirrors),
        env={"OPENG2P_HOME": str(home), "OPENG2P_ODOO_SRC": "https://example.org/odoo.git"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"{home}/odoo <- https://example.org/odoo.git (main @ " in proc.stdout
    assert f"{home}/openg2p-program <- {mirrors}/openg2p-program " in proc.stdout


def test_without_overrides_the_sources_are_the_public_repositories(tmp_path):
    proc = run("--dry-run", "--home", str(tmp_path / "g2p"))
    assert proc.returncode == 0, proc.stderr
    assert "<- https://github.com/Clyde1030/odoo17.git (main @ " in proc.stdout
    assert "<- https://github.com/OpenG2P/openg2p-registry.git (17.0-develop @ " in proc.stdout
    assert "<- https://github.com/OpenG2P/openg2p-program.git (17.0-develop @ " in proc.stdout
    assert (
        "<- https://github.com/OpenG2P/openg2p-social-registry-community-addons.git (17.0-develop @ "
        in proc.stdout
    )


def test_a_source_dir_without_a_repository_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run("--dry-run", "--home", str(tmp_path / "g2p"), "--source-dir", str(tmp_path / "empty"))
    assert proc.returncode != 0
    assert "no git repository for" in proc.stderr


def test_a_home_inside_the_repository_is_refused():
    proc = run("--dry-run", "--home", str(REPO / "openg2p"))
    assert proc.returncode != 0
    assert "outside this repository" in proc.stderr
