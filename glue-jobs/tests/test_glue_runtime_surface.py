"""The emulator's local `awsglue` (scripts/emulator/glue_runtime/awsglue) implements every `awsglue`
name and attribute the jobs use: a static scan of glue-jobs/ against the runtime's source.

The scan follows values typed by awsglue: names imported from it, what its classes construct, what
their methods return (the runtime's return annotations), and `glue_context`, the name every job
passes the GlueContext under. A job that starts calling, say, `glue_context.write_dynamic_frame`
fails here until the runtime implements it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Optional

from support import ROOT

RUNTIME = ROOT / "scripts" / "emulator" / "glue_runtime" / "awsglue"
JOB_SOURCES = ROOT / "glue-jobs"


@dataclass
class RuntimeClass:
    members: dict[str, Optional[str]] = field(
        default_factory=dict
    )  # member → awsglue class it yields (None: not awsglue)


def runtime_model() -> tuple[dict[str, set[str]], dict[str, RuntimeClass], dict[str, Optional[str]]]:
    """(module → exported names, class → members, function → returned class) of the runtime, from its source."""
    exports: dict[str, set[str]] = {}
    classes: dict[str, RuntimeClass] = {}
    returns: dict[str, Optional[str]] = {}
    class_names = {
        n.name for f in RUNTIME.glob("*.py") for n in ast.walk(ast.parse(f.read_text())) if isinstance(n, ast.ClassDef)
    }

    def yielded(node: Optional[ast.AST]) -> Optional[str]:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in class_names:
            return node.func.id
        if isinstance(node, ast.Name) and node.id in class_names:
            return node.id
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in class_names:
            return node.value
        return None

    for path in sorted(RUNTIME.glob("*.py")):
        tree = ast.parse(path.read_text())
        module = "awsglue" if path.stem == "__init__" else f"awsglue.{path.stem}"
        names: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                names = {e.value for e in node.value.elts}  # type: ignore[attr-defined]
            if isinstance(node, ast.FunctionDef):
                returns[node.name] = yielded(node.returns)
            if isinstance(node, ast.ClassDef):
                cls = classes.setdefault(node.name, RuntimeClass())
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        cls.members[item.name] = yielded(item.returns)
                        for sub in ast.walk(item):
                            if isinstance(sub, ast.Assign):
                                for target in sub.targets:
                                    if (
                                        isinstance(target, ast.Attribute)
                                        and isinstance(target.value, ast.Name)
                                        and target.value.id == "self"
                                    ):
                                        cls.members.setdefault(target.attr, yielded(sub.value))
        exports[module] = names
    return exports, classes, returns


class UsageScanner(ast.NodeVisitor):
    """Every awsglue module name, class member and method a source uses, as readable paths."""

    def __init__(self, classes: dict[str, RuntimeClass], returns: dict[str, Optional[str]]):
        self.classes, self.returns = classes, returns
        self.bindings: dict[str, tuple[str, str]] = {}  # local name → (awsglue module, imported name)
        self.types: dict[str, str] = {"glue_context": "GlueContext"}
        self.used: set[str] = set()
        self.missing: set[str] = set()

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and (node.module == "awsglue" or node.module.startswith("awsglue.")):
            for alias in node.names:
                self.bindings[alias.asname or alias.name] = (node.module, alias.name)
                self.used.add(f"{node.module}.{alias.name}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "awsglue" or alias.name.startswith("awsglue."):
                self.missing.add(f"import {alias.name} (import names from awsglue modules, which this scan follows)")

    def type_of(self, node: ast.AST) -> Optional[str]:
        if isinstance(node, ast.Name):
            if node.id in self.types:
                return self.types[node.id]
            if node.id in self.bindings:
                return self.bindings[node.id][1] if self.bindings[node.id][1] in self.classes else None
            return None
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in self.bindings:
                name = self.bindings[node.func.id][1]
                return name if name in self.classes else self.returns.get(name)
            owner = self.type_of(node.func.value) if isinstance(node.func, ast.Attribute) else None
            if owner is not None and isinstance(node.func, ast.Attribute):
                return self.classes.get(owner, RuntimeClass()).members.get(node.func.attr)
            return None
        if isinstance(node, ast.Attribute):
            owner = self.type_of(node.value)
            if owner is None:
                return None
            members = self.classes.get(owner, RuntimeClass()).members
            self.used.add(f"{owner}.{node.attr}")
            if node.attr not in members:
                self.missing.add(f"{owner}.{node.attr}")
                return None
            return members[node.attr]
        return None

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        kind = self.type_of(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and kind:
                self.types[target.id] = kind

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.type_of(node)
        self.generic_visit(node)


def scan(sources: dict[str, str]) -> tuple[set[str], set[str]]:
    """(used, missing) for the given {path: source}."""
    exports, classes, returns = runtime_model()
    used: set[str] = set()
    missing: set[str] = set()
    for path, source in sources.items():
        scanner = UsageScanner(classes, returns)
        tree = ast.parse(source)
        for node in ast.walk(tree):  # imports first, wherever they sit (the jobs import awsglue inside functions)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                scanner.visit(node)
        scanner.visit(tree)
        for local, (module, name) in scanner.bindings.items():
            if name not in exports.get(module, set()):
                missing.add(f"{path}: {module}.{name}")
        used |= scanner.used
        missing |= {f"{path}: {m}" for m in scanner.missing}
        if "awsglue" in source and not scanner.bindings and "import awsglue" not in source:
            if any(
                isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("awsglue")
                for n in ast.walk(tree)
            ):
                missing.add(f"{path}: names awsglue in a string (a dynamic import this scan cannot check)")
    return used, missing


def job_sources() -> dict[str, str]:
    files = [
        p
        for p in JOB_SOURCES.rglob("*.py")
        if "tests" not in p.relative_to(JOB_SOURCES).parts and "__pycache__" not in p.parts
    ]
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted(files)}


def test_every_awsglue_call_of_the_jobs_is_implemented_by_the_local_runtime() -> None:
    used, missing = scan(job_sources())
    assert not missing, "the jobs use awsglue names the emulator's runtime does not implement:\n" + "\n".join(
        sorted(missing)
    )
    # The scan sees what the entry points are known to use (a scan that found nothing would pass vacuously).
    assert {
        "awsglue.utils.getResolvedOptions",
        "awsglue.context.GlueContext",
        "awsglue.job.Job",
        "Job.init",
        "Job.commit",
        "GlueContext.spark_session",
        "GlueContext.create_dynamic_frame",
        "_DynamicFrameReader.from_options",
        "DynamicFrame.toDF",
    } <= used


def test_a_call_the_runtime_lacks_is_reported() -> None:
    source = (
        "from awsglue.context import GlueContext\n"
        "from awsglue.transforms import ApplyMapping\n"
        "def run(spark, args, glue_context=None):\n"
        "    dyf = glue_context.create_dynamic_frame.from_options(connection_type='postgresql', connection_options={})\n"
        "    dyf.resolveChoice(specs=[])\n"
        "    glue_context.write_dynamic_frame.from_options(frame=dyf, connection_type='s3')\n"
    )
    _, missing = scan({"job.py": source})
    assert missing == {
        "job.py: awsglue.transforms.ApplyMapping",
        "job.py: DynamicFrame.resolveChoice",
        "job.py: GlueContext.write_dynamic_frame",
    }
