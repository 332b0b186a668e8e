"""The type stubs python/fastnn/_C.pyi against the built extension: every name is stubbed and every
stubbed signature has the runtime's parameters (names, positional / keyword-only, defaults), read
from the signature lines pybind11 puts in each __doc__. Regenerate with tools/gen_stubs.py."""

import ast
import importlib.util
import re
import sys
from pathlib import Path

import fastnn
import fastnn._C as C
import pytest

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "python" / "fastnn" / "_C.pyi"
GEN = ROOT / "tools" / "gen_stubs.py"
SKIP_MEMBERS = {"__doc__", "__module__", "__dict__", "__weakref__", "_pybind11_conduit_v1_"}

pytestmark = pytest.mark.skipif(not STUB.exists(), reason="no source tree beside the tests")


def _stub_tree():
    return ast.parse(STUB.read_text(), filename=str(STUB))


def _defs(body):
    """name -> [FunctionDef, ...] (several for @overload) and the names of properties/setters."""
    funcs, props, setters = {}, set(), set()
    for node in body:
        if not isinstance(node, ast.FunctionDef):
            continue
        decos = [ast.unparse(d) for d in node.decorator_list]
        if "property" in decos:
            props.add(node.name)
        elif f"{node.name}.setter" in decos:
            setters.add(node.name)
        else:
            funcs.setdefault(node.name, []).append(node)
    return funcs, props, setters


def _stub_names(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and ast.unparse(node.annotation) != "TypeAlias"  # not the stub's own aliases
        ):
            names.add(node.target.id)
    return names


def _runtime_names():
    return {n for n in dir(C) if not (n.startswith("__") and n.endswith("__"))}


def _runtime_signatures(name, doc):
    """[(name, kind, has_default), ...] per signature line of a pybind11 __doc__ (written
    independently of tools/gen_stubs.py's parser). kind: posonly, pos, kwonly, varpos, varkw."""
    lines = (doc or "").splitlines()
    if len(lines) > 1 and lines[1].strip() == "Overloaded function.":
        lines = [
            ln.split(". ", 1)[1] for ln in lines if re.match(rf"\d+\. {re.escape(name)}\(", ln)
        ]
    else:
        lines = lines[:1]
    sigs = []
    for line in lines:
        assert line.startswith(f"{name}(") and ") -> " in line, f"{name}: {line!r}"
        inner = line[line.index("(") + 1 : line.rindex(") -> ")]
        # parameter names are the top-level words followed by ": " (types hold no ": ")
        marks = list(re.finditer(r"(?:^|, )(\*\*\w+|\*\w+|\w+|\*|/)(?=: |, |$)", inner))
        params, kind = [], "pos"
        for i, m in enumerate(marks):
            tok = m.group(1)
            end = marks[i + 1].start() if i + 1 < len(marks) else len(inner)
            if tok == "*":
                kind = "kwonly"
            elif tok == "/":
                params = [(n, "posonly", d) for n, _, d in params]
            elif tok.startswith("**"):
                params.append((tok[2:], "varkw", False))
            elif tok.startswith("*"):
                params.append((tok[1:], "varpos", False))
                kind = "kwonly"
            else:
                k = "posonly" if kind == "pos" and re.fullmatch(r"arg\d+", tok) else kind
                params.append((tok, k, " = " in inner[m.end() : end]))
        sigs.append(params)
    return sigs


def _stub_signature(fn):
    a = fn.args
    pos = a.posonlyargs + a.args
    first_default = len(pos) - len(a.defaults)
    params = [
        (p.arg, "posonly" if i < len(a.posonlyargs) else "pos", i >= first_default)
        for i, p in enumerate(pos)
    ]
    if a.vararg:
        params.append((a.vararg.arg, "varpos", False))
    params += [(p.arg, "kwonly", d is not None) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        params.append((a.kwarg.arg, "varkw", False))
    return params


def _check(qual, runtime_sigs, stub_fns, method):
    stub_sigs = [_stub_signature(f) for f in stub_fns]
    assert len(stub_sigs) == len(runtime_sigs), f"{qual}: overload count"
    for rt, st in zip(runtime_sigs, stub_sigs):
        if method:  # pybind11 names self "self" (or arg0 for property accessors)
            assert st[0][0] == "self", qual
            rt, st = rt[1:], st[1:]
        # pybind11's unnamed argN arguments are positional-only; the stub may name them
        norm = [("", k, d) if k == "posonly" else (n, k, d) for n, k, d in rt]
        assert [("", k, d) if k == "posonly" else (n, k, d) for n, k, d in st] == norm, (
            f"{qual}: stub parameters {st} but runtime {rt}; regenerate with tools/gen_stubs.py"
        )


def test_every_name_is_stubbed():
    stubbed = _stub_names(_stub_tree())
    assert _runtime_names() - stubbed == set(), "missing from _C.pyi"
    assert stubbed - _runtime_names() == set(), "in _C.pyi but not in fastnn._C"


def test_function_signatures_match_runtime():
    funcs, _, _ = _defs(_stub_tree().body)
    checked = 0
    for name in sorted(_runtime_names()):
        obj = getattr(C, name)
        if callable(obj) and not isinstance(obj, type):
            _check(name, _runtime_signatures(name, obj.__doc__), funcs[name], method=False)
            checked += 1
    assert checked > 50


def test_class_members_match_runtime():
    classes = {n.name: n for n in _stub_tree().body if isinstance(n, ast.ClassDef)}
    runtime_classes = [n for n in _runtime_names() if isinstance(getattr(C, n), type)]
    assert runtime_classes
    for cname in runtime_classes:
        cls = getattr(C, cname)
        funcs, props, setters = _defs(classes[cname].body)
        members = {k: v for k, v in vars(cls).items() if k not in SKIP_MEMBERS}
        rt_props = {k for k, v in members.items() if isinstance(v, property)}
        assert props == rt_props, f"{cname} properties"
        assert setters == {k for k in rt_props if members[k].fset is not None}, f"{cname} setters"
        assert set(funcs) == set(members) - rt_props, f"{cname} methods"
        for k in funcs:
            sigs = _runtime_signatures(k, members[k].__doc__)
            _check(f"{cname}.{k}", sigs, funcs[k], method=True)


def test_stub_is_up_to_date():
    if not GEN.exists():
        pytest.skip("tools/gen_stubs.py not found")
    spec = importlib.util.spec_from_file_location("gen_stubs", GEN)
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen  # for its dataclasses
    try:
        spec.loader.exec_module(gen)
    finally:
        del sys.modules[spec.name]
    assert gen.generate(C) == STUB.read_text(), "run: python tools/gen_stubs.py"


def test_stub_is_installed():
    pkg = Path(fastnn.__file__).resolve().parent
    assert (pkg / "_C.pyi").is_file() and (pkg / "py.typed").is_file()


def test_signature_parser_sees_kinds():
    # guard the test's own parser on signatures of each shape
    sig = _runtime_signatures("elu_backward", C.elu_backward.__doc__)[0]
    assert sig == [
        ("grad_out", "pos", False),
        ("x", "pos", True),
        ("alpha", "pos", True),
        ("y", "kwonly", True),
        ("out", "kwonly", True),
    ]
    call = _runtime_signatures("__call__", C.TrainStep.__call__.__doc__)[0]
    assert [(n, k) for n, k, _ in call][1:] == [("x", "pos"), ("y", "pos")]
