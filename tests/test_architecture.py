"""The shape the code keeps: aecore in rooms without import cycles, one door from the pages to the engine, one
settings object, small page helpers."""

import ast
from pathlib import Path

from conftest import ROOT

AECORE = ROOT / "aecore"
PAGES = [ROOT / "app.py", *sorted((ROOT / "app_pages").rglob("*.py"))]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Every module a file imports, anywhere in it (function-level imports count too), as absolute names."""
    me = _module(path)
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names]
    return out


def test_aecore_has_no_import_cycle():
    modules = {_module(p): p for p in AECORE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imp in _imports(path):
            while imp and imp not in modules:
                imp = imp.rpartition(".")[0]
            if imp and imp != name:
                deps.add(imp)
        graph[name] = deps
    seen, stack, cycles = {}, [], []

    def visit(v):
        seen[v] = "open"
        stack.append(v)
        for w in graph[v]:
            if seen.get(w) == "open":
                cycles.append(stack[stack.index(w):] + [w])
            elif w not in seen:
                visit(w)
        stack.pop()
        seen[v] = "done"

    for v in graph:
        if v not in seen:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_aecore_is_a_plain_library():
    for path in AECORE.rglob("*.py"):
        bad = [m for m in _imports(path) if m.split(".")[0] in ("streamlit", "plotly", "app_pages")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_pages_reach_the_engine_only_through_its_door():
    for path in PAGES:
        for m in _imports(path):
            if m.startswith("aecore.engine"):
                assert m.startswith("aecore.engine.client"), f"{path.relative_to(ROOT)} imports {m}"
        text = path.read_text()
        assert "._store" not in text, f"{path.relative_to(ROOT)} reaches into the engine's store"


def test_only_the_settings_read_the_environment():
    readers = sorted(str(p.relative_to(ROOT)) for p in AECORE.rglob("*.py") if "os.environ" in p.read_text())
    assert readers == ["aecore/settings.py"], readers


def test_page_helpers_are_small_and_every_module_says_what_it_holds():
    for path in sorted((ROOT / "app_pages" / "kit").glob("*.py")):
        assert len(path.read_text().splitlines()) <= 300, f"{path.relative_to(ROOT)} is over 300 lines"
    for path in [*AECORE.rglob("*.py"), *PAGES]:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc, f"{path.relative_to(ROOT)} has no docstring"


def test_every_picture_a_page_shows_goes_out_as_the_png_it_drew():
    """st.image sends a PNG without transparency as a JPEG (quality 90) unless told otherwise: the digits' sharp edges
    smudged, and the picture encoded again on every run. Every call on a page says output_format="PNG"."""
    for path in PAGES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "image":
                fmt = next((k.value for k in node.keywords if k.arg == "output_format"), None)
                assert isinstance(fmt, ast.Constant) and fmt.value == "PNG", \
                    f"{path.relative_to(ROOT)}:{node.lineno}: .image() without output_format=\"PNG\""
