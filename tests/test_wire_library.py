"""The wire layer is one library (mpesa-wire/, imported as mpesa_wire) that the addon, the bench and
the tests import: it builds as a wheel with every module, imports no Odoo, and no copy of it is left
in the addon."""

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import mpesa_wire

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "mpesa-wire"
ADDON = REPO / "g2p_payment_mpesa"


def _modules(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.py") if "__pycache__" not in p.parts}


def test_tests_import_the_library_of_this_checkout():
    assert Path(mpesa_wire.__file__).resolve().parent == LIB / "mpesa_wire"


def test_the_wheel_holds_every_module(tmp_path):
    source = tmp_path / "mpesa-wire"  # a copy: setuptools leaves build/ beside the sources it builds
    shutil.copytree(LIB, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    proc = subprocess.run([*command, "-w", tmp_path, source], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("mpesa_wire-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    expected = {f"mpesa_wire/{m}" for m in _modules(LIB / "mpesa_wire")}
    assert {"mpesa_wire/daraja/client.py", "mpesa_wire/openapi/client.py"} <= expected
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    for requirement in ("requests", "phonenumbers", "cryptography"):
        assert f"Requires-Dist: {requirement}" in metadata


def test_the_library_imports_no_odoo():
    for path in sorted((LIB / "mpesa_wire").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "odoo" or n.startswith("odoo.") for n in names), f"{path} imports {names}"


def test_the_addon_holds_no_copy_and_declares_the_library():
    assert not (ADDON / "wire").exists()
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text(encoding="utf-8"))
    assert "mpesa_wire" in manifest["external_dependencies"]["python"]
