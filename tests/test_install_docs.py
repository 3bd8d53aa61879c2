"""What the addon imports is what its manifest declares and what the README tells to install."""

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "g2p_payment_mpesa"
# Provided by Odoo itself (odoo, psycopg2) or by a declared library (urllib3 comes with requests).
PROVIDED = {"odoo", "psycopg2", "urllib3"}
# Odoo 17's requirements.txt has these; anything else must be installed by hand.
IN_ODOO_REQUIREMENTS = {"requests", "cryptography", "xlsxwriter"}
# The wire library is this repository's (not on PyPI) and brings phonenumbers with it.
INSTALLED_BY = {"mpesa_wire": "pip install ./mpesa-wire", "phonenumbers": "pip install ./mpesa-wire"}


def third_party_imports():
    found = set()
    for path in ADDON.rglob("*.py"):
        if "tests" in path.relative_to(ADDON).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found |= {name.split(".")[0] for name in names}
    # The addon's own modules, imported by name where a module is also run from the addon's folder
    # without Odoo (g2p_bridge_partner imports spar so in the bridge suite): not libraries.
    own = {path.stem for path in ADDON.glob("*.py")}
    own |= {path.name for path in ADDON.iterdir() if path.is_dir()}
    return {name for name in found if name not in sys.stdlib_module_names} - PROVIDED - own


def manifest():
    return ast.literal_eval((ADDON / "__manifest__.py").read_text())


def test_every_library_the_addon_imports_is_declared_in_the_manifest():
    declared = set(manifest()["external_dependencies"]["python"])
    assert third_party_imports() <= declared, third_party_imports() - declared


def test_readme_installs_what_odoo_does_not_ship():
    readme = (REPO / "README.md").read_text()
    install = readme[readme.index("## Installing the addon") : readme.index("## Configuration")]
    for library in sorted(set(manifest()["external_dependencies"]["python"]) - IN_ODOO_REQUIREMENTS):
        command = INSTALLED_BY.get(library, f"pip install {library}")
        assert command in install, f"README does not say to install {library} ({command})"
    wire_requirements = (REPO / "mpesa-wire" / "pyproject.toml").read_text()
    assert '"phonenumbers' in wire_requirements, "the wire library must bring phonenumbers"
    assert "odoo-addon-queue_job" in install and "ship with Odoo" not in install
