"""The tree's layering: every import in gonet points down, and h11 has one home.

Layers, bottom to top (README's layout table lists the modules of each).
A module may import its own layer and the layers below it, never one above;
a module that no layer claims fails the test, so that a new module is placed
on purpose. The package facade (``gonet/__init__.py``) re-exports the public
API and sits outside the order; no module inside gonet may import names
from it (only its submodules).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "gonet"

#: (layer, module prefixes), bottom first.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("runtime", ("gonet.runtime",)),
    ("concurrency", ("gonet.chan", "gonet.sync", "gonet.context", "gonet.gotime", "gonet.bufio")),
    ("poll", ("gonet.poll",)),
    ("net", ("gonet.net",)),
    ("signal", ("gonet.signal",)),
    ("tls", ("gonet.tls",)),
    ("patch", ("gonet.coop",)),
    ("http", ("gonet.http",)),
    ("websocket", ("gonet.websocket",)),
    ("serve", ("gonet.serve",)),
]

#: Third-party packages that only one module may import.
OWNERS = {"h11": "gonet.http.wire", "multipart": "gonet.http.multipart"}

FACADE = {"gonet", "gonet.__main__"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _rank(module: str) -> int | None:
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                return i
    return None


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, nested ones too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "gonet":
                for a in node.names:
                    sub = f"gonet.{a.name}"
                    out.append((node.lineno, sub if _is_module(sub) else f"gonet:{a.name}"))
            else:
                out.append((node.lineno, node.module))
    return out


MODULES = sorted(ROOT.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    loose = [_module_name(p) for p in MODULES
             if _module_name(p) not in FACADE and _rank(_module_name(p)) is None]
    assert loose == [], f"modules in no layer (add them to LAYERS here and to README): {loose}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_point_down(path):
    me = _module_name(path)
    mine = _rank(me)
    bad = []
    for line, target in _imports(path):
        if target.startswith("gonet:"):
            if me not in FACADE and target != "gonet:__version__":
                bad.append(f"{me}:{line} imports {target[6:]!r} from the gonet facade; "
                           f"import it from the module that owns it")
            continue
        top = target.split(".")[0]
        owner = OWNERS.get(top)
        if owner is not None and me != owner:
            bad.append(f"{me}:{line} imports {top}, which only {owner} may")
        if top != "gonet" or me in FACADE:
            continue
        theirs = _rank(target)
        if theirs is None:
            if target != "gonet":
                bad.append(f"{me}:{line} imports {target}, which is in no layer")
            continue
        if mine is not None and theirs > mine:
            bad.append(f"{me}:{line} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]}): "
                       f"an import pointing up")
    assert bad == []


def test_the_checker_catches_an_upward_import(tmp_path):
    # The rule itself: a runtime module importing the net layer is refused.
    assert _rank("gonet.runtime.sched") < _rank("gonet.net.conn") < _rank("gonet.http.conn")
    src = tmp_path / "probe.py"
    src.write_text("from gonet.net import dial\nimport h11\nfrom gonet import Chan\n")
    found = _imports(src)
    assert (1, "gonet.net") in found and (2, "h11") in found and (3, "gonet:Chan") in found
