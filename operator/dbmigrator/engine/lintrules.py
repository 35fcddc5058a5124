"""Migration lint, the pure half: squawk's rules, the project's levels, findings in plan context.

squawk (2.70) reports every finding at level Warning; this project decides what stops a run. The
default ERROR rules are lock and rewrite risks on existing tables and data loss; rules whose risk
the engine already removes (it sets lock_timeout/statement_timeout per file, owns the
transactions, runs CREATE INDEX CONCURRENTLY outside one) are ignored; the rest are warnings.
In down files, dropping what the up file created (and renaming back) is a warning: that is what
a down file is for, and the operator backs up before a rollback.

Beyond squawk, which sees one file at a time: a table created earlier in the same plan does not
exist in the live database yet, so it has no rows, readers or writers, and lock, rewrite and
client findings on it are dropped. Which table a statement targets comes from the PostgreSQL
grammar (pglast), not from squawk's parser. No I/O here: `engine/lint.py` runs squawk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pglast import ast, enums, parser
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from dbmigrator.engine.sqlparse import ParsedFile, Statement

Level = Literal["error", "warning"]
FailOn = Literal["error", "warning", "never"]
Direction = Literal["up", "down"]
Category = Literal["lock", "loss", "clients", "engine", "style", "meta"]


@dataclass(frozen=True)
class Rule:
    """A squawk rule and what this project makes of it."""

    category: Category
    level: Level | None
    """Default level in up files; None: ignored by default."""
    why: str
    down: Level | None = None
    """Default level in down files when it differs from `level`."""
    meta: bool = False
    """Reported by squawk but not a rule name its --exclude/--include accept."""
    opt_in: bool = False
    """Off in squawk unless included: naming it in `error` or `warning` turns it on."""

    def default(self, direction: Direction) -> Level | None:
        return self.down if direction == "down" and self.down is not None else self.level


def _lock(why: str) -> Rule:
    return Rule("lock", "error", why)


def _loss(why: str, down: Level | None = "warning") -> Rule:
    return Rule("loss", "error", why, down=down)


def _warn(why: str, category: Category = "style") -> Rule:
    return Rule(category, "warning", why)


def _opt_in(why: str) -> Rule:
    return Rule("clients", "warning", why, opt_in=True)


def _engine(why: str) -> Rule:
    return Rule("engine", None, why)


DOWN_WHY = "a warning in down files: removing what the up file created is their job"

# Every rule squawk 2.70 knows (tests/unit/test_engine_lint.py checks the names against the
# binary), with the project's default and its one-line reason (docs/safety.md shows this table).
RULES: Mapping[str, Rule] = {
    # -- lock and rewrite risks on existing tables: errors ----------------------------------------
    "require-concurrent-index-creation": _lock(
        "CREATE INDEX without CONCURRENTLY blocks writes for the whole build"
    ),
    "require-concurrent-reindex": _lock("REINDEX without CONCURRENTLY blocks reads and writes"),
    "changing-column-type": _lock(
        "most type changes rewrite the table under ACCESS EXCLUSIVE (no reads, no writes)"
    ),
    "adding-not-nullable-field": _lock(
        "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE; use a NOT VALID check first"
    ),
    "adding-required-field": _lock(
        "a NOT NULL column without a default fails on existing rows and breaks old inserts"
    ),
    "adding-field-with-default": _lock(
        "a volatile default or generated column rewrites the table under ACCESS EXCLUSIVE"
    ),
    "constraint-missing-not-valid": _lock(
        "a constraint without NOT VALID scans the table while it blocks writes"
    ),
    "adding-foreign-key-constraint": _lock(
        "a validated foreign key scans the table under SHARE ROW EXCLUSIVE on both tables"
    ),
    "disallowed-unique-constraint": _lock(
        "ADD UNIQUE builds the index under ACCESS EXCLUSIVE; build it CONCURRENTLY, then attach"
    ),
    "adding-serial-primary-key-field": _lock(
        "a new primary key builds its index under ACCESS EXCLUSIVE (rewrites with a serial)"
    ),
    # -- breaks every running client at once: errors (in down files, renaming back: warning) ----
    "renaming-column": Rule(
        "clients", "error", "running application code fails at once on the old name", "warning"
    ),
    "renaming-table": Rule(
        "clients", "error", "running application code fails at once on the old name", "warning"
    ),
    # -- data loss: errors in up files, warnings in down files -----------------------------------
    "ban-drop-column": _loss("the column's data is gone; a backup is the only way back"),
    "ban-drop-table": _loss("the table's data is gone; a backup is the only way back"),
    "ban-drop-schema": _loss("with CASCADE every table in it is gone"),
    "ban-truncate-cascade": _loss("CASCADE empties every table that references this one"),
    "ban-drop-database": _loss("never part of a migration: everything is gone", down=None),
    # -- the engine already does it: ignored ----------------------------------------------------
    "require-lock-timeout": _engine("the engine sets lock_timeout for every file (--lock-timeout)"),
    "require-statement-timeout": _engine(
        "the engine sets statement_timeout for every file (--statement-timeout)"
    ),
    "require-timeout-settings": _engine("the engine sets both timeouts for every file"),
    "ban-concurrent-index-creation-in-transaction": _engine(
        "the engine runs a file with CONCURRENTLY outside a transaction, statement by statement"
    ),
    "transaction-nesting": _engine(
        "the engine owns the transaction: it drops a file's BEGIN/COMMIT and refuses the rest"
    ),
    "ban-uncommitted-transaction": _engine(
        "the engine drops a file's BEGIN/COMMIT, so a missing COMMIT changes nothing"
    ),
    # -- shorter locks, client surprises, style: warnings ----------------------------------------
    "require-concurrent-index-deletion": _warn(
        "DROP INDEX holds ACCESS EXCLUSIVE only briefly; the engine's lock_timeout bounds the wait",
        "lock",
    ),
    "require-concurrent-partition-detach": _warn(
        "a brief ACCESS EXCLUSIVE on the parent, bounded by the engine's lock_timeout", "lock"
    ),
    "ban-alter-domain-with-add-constraint": _warn(
        "validates every column of the domain; flagged even when NOT VALID", "lock"
    ),
    "ban-create-domain-with-constraint": _warn("domain constraints are hard to change online"),
    "ban-drop-not-null": _warn(
        "metadata only, no data lost; clients that assumed non-null values may break", "clients"
    ),
    "ban-drop-view": _warn("no data lost (a view holds none), but its readers break", "clients"),
    "ban-drop-function": _warn("no data lost, but its callers break", "clients"),
    "ban-set-schema": _warn("no data lost, but clients using the old schema break", "clients"),
    "ban-drop-type": _warn("no data lost by itself (columns using it block the drop)", "clients"),
    "ban-drop-sequence": _warn("its counter is lost; defaults using it block the drop", "clients"),
    "ban-drop-domain": _warn("no data lost by itself (columns using it block the drop)", "clients"),
    "ban-drop-constraint": _warn("no data lost, the data may stop meeting it", "clients"),
    "ban-drop-generated-expression": _warn("the column keeps its values", "clients"),
    "ban-drop-index": _opt_in("no data lost; queries may get slower"),
    "ban-drop-policy": _opt_in("RLS changes are reviewed through validation's role probes"),
    "ban-alter-identity": _warn("no data lost; inserts that set the column may break", "clients"),
    "ban-drop-extension": _warn("its objects go with it; review what depends on it", "clients"),
    "renaming-object": _warn("clients of the old name break", "clients"),
    "require-enum-value-ordering": _warn("a new enum value lands at the end of the order"),
    "prefer-robust-stmts": _warn(
        "a transactional file is atomic; matters for files run outside a transaction"
    ),
    "prefer-bigint-over-int": _warn("style: 32-bit keys run out"),
    "prefer-bigint-over-smallint": _warn("style: 16-bit keys run out"),
    "prefer-identity": _warn("style: serial columns are harder to manage than identity"),
    "prefer-text-field": _warn("style: changing a varchar length takes ACCESS EXCLUSIVE"),
    "prefer-timestamp-tz": _warn("style: timestamp without time zone drops the offset"),
    "prefer-repack": _warn("style: VACUUM FULL/CLUSTER rewrite under ACCESS EXCLUSIVE"),
    "ban-char-field": _warn("style: char(n) pads and is almost never meant"),
    "identifier-too-long": _warn("PostgreSQL truncates names over 63 bytes"),
    "require-table-schema": Rule("style", "warning", "qualify table names", opt_in=True),
    # -- opt-in rules of squawk (enable one by naming it in `error` or `warning`) ---------------
    "ban-add-column": _opt_in("any new column"),
    "ban-new-write-restriction": _opt_in("a new restriction on writes"),
    "ban-revoke": _opt_in("a REVOKE"),
    "ban-create-policy": _opt_in("a new RLS policy"),
    "ban-alter-policy-condition": _opt_in("a changed RLS condition"),
    "ban-alter-policy-roles": _opt_in("a changed RLS role list"),
    "ban-alter-row-level-security": _opt_in("RLS switched on or off"),
    "ban-disable-trigger": _opt_in("a disabled trigger"),
    "ban-replace-view-function": _opt_in("a replaced view or function"),
    "ban-replica-identity": _opt_in("a changed replica identity"),
    "ban-alter-generated-expression": _opt_in("a changed generated column"),
    "ban-set-default": _opt_in("a changed column default"),
    "ban-alter-function-options": _opt_in("changed function options"),
    "ban-alter-view-options": _opt_in("changed view options"),
    "ban-alter-role-options": _opt_in("changed role options"),
    "ban-alter-database-options": _opt_in("changed database options"),
    "ban-alter-system-options": _opt_in("ALTER SYSTEM"),
    "ban-alter-extension": _opt_in("an altered extension"),
    "ban-alter-sequence-values": _opt_in("changed sequence values"),
    "ban-add-enum-value": _opt_in("a new enum value"),
    "ban-add-composite-attribute": _opt_in("a new composite type attribute"),
    "ban-detach-inheritance": _opt_in("a detached partition or child"),
    # -- squawk's own reports ------------------------------------------------------------------
    "syntax-error": Rule(
        "meta",
        "warning",
        "squawk's parser is not PostgreSQL's; the engine's (pglast) is authoritative",
        meta=True,
    ),
    "unused-ignore": Rule(
        "meta", "warning", "a squawk-ignore comment that matched nothing", meta=True
    ),
}

# Rules about the table a statement alters: moot when the table was created earlier in the same
# plan (it does not exist in the live database yet, so it has no rows, locks or clients).
NEW_TABLE_EXEMPT = frozenset(
    {name for name, rule in RULES.items() if rule.category in ("lock", "clients", "loss")}
    - {"ban-drop-database", "ban-drop-schema", "ban-create-domain-with-constraint"}
)


def known_rule_names() -> list[str]:
    return sorted(RULES)


class LintConfig(BaseModel):
    """`lint:` of the checks file and `spec.validation.lint` of the resource."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )

    fail_on: FailOn = Field(
        default="error",
        description="Lowest level that fails `dbmigrator lint` (never: report only).",
    )
    ignore: tuple[str, ...] = Field(default=(), description="squawk rules not reported at all.")
    error: tuple[str, ...] = Field(
        default=(), description="squawk rules raised to error (also enables opt-in rules)."
    )
    warning: tuple[str, ...] = Field(
        default=(), description="squawk rules lowered to warning (also enables opt-in rules)."
    )

    @field_validator("ignore", "error", "warning")
    @classmethod
    def _known(cls, rules: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [r for r in rules if r not in RULES]
        if unknown:
            raise ValueError(
                f"unknown squawk rule(s) {', '.join(unknown)}; known rules: "
                f"{', '.join(known_rule_names())}"
            )
        return rules

    @model_validator(mode="after")
    def _one_list_per_rule(self) -> LintConfig:
        lists = {"ignore": self.ignore, "error": self.error, "warning": self.warning}
        seen: dict[str, str] = {}
        for name, rules in lists.items():
            for rule in rules:
                if rule in seen and seen[rule] != name:
                    raise ValueError(f"rule {rule} is in both {seen[rule]} and {name}")
                seen[rule] = name
        return self

    def level(self, rule: str, direction: Direction) -> Level | None:
        """The level of a finding of `rule` (None: not reported). A rule squawk knows and this
        table does not (a newer squawk) is a warning."""
        if rule in self.ignore:
            return None
        if rule in self.error:
            return "error"
        if rule in self.warning:
            return "warning"
        known = RULES.get(rule)
        return known.default(direction) if known is not None else "warning"

    @property
    def included(self) -> tuple[str, ...]:
        """Rules to pass to squawk's --include (its opt-in rules need it; harmless otherwise)."""
        return tuple(r for r in (*self.error, *self.warning) if not RULES[r].meta)


@dataclass(frozen=True)
class LintFinding:
    """One finding, as the user knows the file: its name and 1-based line and column."""

    file: str
    line: int
    column: int
    rule: str
    level: Level
    message: str
    help: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
        }

    @property
    def display(self) -> str:
        return f"{self.file}:{self.line} {self.level} {self.rule} {self.message}"


@dataclass(frozen=True)
class LintReport:
    findings: tuple[LintFinding, ...] = ()
    files: tuple[str, ...] = ()
    direction: Direction = "up"
    fail_on: FailOn = "error"
    dropped: tuple[LintFinding, ...] = field(default=(), compare=False)
    """Findings dropped because their table is created earlier in the plan (for --verbose)."""

    @property
    def counts(self) -> dict[str, int]:
        return {
            "error": sum(f.level == "error" for f in self.findings),
            "warning": sum(f.level == "warning" for f in self.findings),
        }

    @property
    def failed(self) -> bool:
        return any(reaches(f.level, self.fail_on) for f in self.findings)

    def for_file(self, name: str) -> list[LintFinding]:
        return [f for f in self.findings if f.file == name]

    def as_json(self) -> dict[str, Any]:
        return {
            "command": "lint",
            "ok": not self.failed,
            "direction": self.direction,
            "failOn": self.fail_on,
            "files": list(self.files),
            "lint": [f.as_json() for f in self.findings],
            "counts": self.counts,
        }

    def summary(self) -> str:
        c = self.counts
        verdict = "fails" if self.failed else "passes"
        return (
            f"{len(self.files)} file(s) linted: {c['error']} error(s), {c['warning']} warning(s); "
            f"{verdict} --fail-on {self.fail_on}"
        )


def reaches(level: Level, fail_on: FailOn) -> bool:
    if fail_on == "never":
        return False
    return level == "error" or fail_on == "warning"


# --------------------------------------------------------------------------- squawk's output


@dataclass(frozen=True)
class RawFinding:
    """squawk's JSON, 0-based as it reports, `file` as we named it for squawk."""

    file: str
    line: int
    column: int
    rule: str
    message: str
    help: str | None


def parse_squawk_json(text: str) -> list[RawFinding]:
    """squawk --reporter json -> findings; ValueError when the output is not its JSON shape."""
    data = json.loads(text) if text.strip() else []
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of findings")
    out = []
    for item in data:
        if not isinstance(item, dict):
            raise ValueError(f"expected a finding object, got {item!r}")
        out.append(
            RawFinding(
                file=str(item["file"]),
                line=int(item.get("line") or 0),
                column=int(item.get("column") or 0),
                rule=str(item.get("rule_name") or "unknown"),
                message=str(item.get("message") or ""),
                help=str(item["help"]) if item.get("help") else None,
            )
        )
    return out


def build_report(
    files: Sequence[ParsedFile],
    raw: Iterable[RawFinding],
    config: LintConfig,
    *,
    direction: Direction = "up",
    fail_on: FailOn | None = None,
    names: Mapping[str, str] | None = None,
    plan_context: bool = True,
) -> LintReport:
    """squawk's findings -> the project's: the file's own name, 1-based positions, levels from
    the config, ignored rules gone and, with `plan_context`, lock/rewrite/client findings on
    tables created earlier in the plan dropped. `names` maps squawk's file names to ours."""
    order = {p.file.name: i for i, p in enumerate(files)}
    names = names or {}
    kept: list[LintFinding] = []
    for r in raw:
        level = config.level(r.rule, direction)
        if level is None:
            continue
        kept.append(
            LintFinding(
                file=names.get(r.file, r.file),
                line=r.line + 1,
                column=r.column + 1,
                rule=r.rule,
                level=level,
                message=r.message,
                help=r.help,
            )
        )
    dropped: list[LintFinding] = []
    if plan_context and any(f.rule in NEW_TABLE_EXEMPT for f in kept):
        kept, dropped = plan_new_table_filter(files, kept)
    key = _sort_key(order)
    return LintReport(
        findings=tuple(sorted(set(kept), key=key)),
        files=tuple(p.file.name for p in files),
        direction=direction,
        fail_on=fail_on or config.fail_on,
        dropped=tuple(sorted(dropped, key=key)),
    )


def _sort_key(order: Mapping[str, int]) -> Any:
    def key(f: LintFinding) -> tuple[int, int, int, str, str]:
        return (order.get(f.file, len(order)), f.line, f.column, f.rule, f.message)

    return key


# --------------------------------------------------------------------------- plan context

TableName = tuple[str, str]
"""(schema, table); an unqualified name counts as public."""


def plan_new_table_filter(
    files: Sequence[ParsedFile], findings: Sequence[LintFinding]
) -> tuple[list[LintFinding], list[LintFinding]]:
    """(kept, dropped): a finding of a NEW_TABLE_EXEMPT rule is dropped when every table its
    statement targets was created by an earlier statement of the plan (this file or an earlier
    one), so it does not exist in the live database yet."""
    facts = {p.file.name: list(_statement_facts(p)) for p in files}
    new_before: dict[tuple[str, int], frozenset[TableName]] = {}
    created: set[TableName] = set()
    for p in files:
        for fact in facts[p.file.name]:
            new_before[(p.file.name, fact.statement.line)] = frozenset(created)
            created |= fact.creates
            for old, new in fact.renames:
                if old in created:
                    created.add(new)
    kept: list[LintFinding] = []
    dropped: list[LintFinding] = []
    for finding in findings:
        at = _statement_at(facts.get(finding.file, []), finding.line)
        if (
            finding.rule in NEW_TABLE_EXEMPT
            and at is not None
            and at.targets
            and at.targets <= new_before[(finding.file, at.statement.line)]
        ):
            dropped.append(finding)
        else:
            kept.append(finding)
    return kept, dropped


@dataclass(frozen=True)
class StatementFacts:
    statement: Statement
    last_line: int
    creates: frozenset[TableName] = frozenset()
    targets: frozenset[TableName] = frozenset()
    """The existing tables the statement locks, alters or drops (empty: none we can tell)."""
    renames: tuple[tuple[TableName, TableName], ...] = ()


_TREE_KINDS = frozenset(
    {
        "CreateStmt",
        "CreateTableAsStmt",
        "IndexStmt",
        "AlterTableStmt",
        "RenameStmt",
        "DropStmt",
        "TruncateStmt",
        "ReindexStmt",
    }
)


def _statement_facts(parsed: ParsedFile) -> Iterator[StatementFacts]:
    for s in parsed.statements:
        last = s.line + s.text.count("\n")
        if s.kind not in _TREE_KINDS:
            yield StatementFacts(s, last)
            continue
        try:
            (raw,) = parser.parse_sql(s.text)
        except (parser.ParseError, ValueError):  # the engine parsed it already; stay safe
            yield StatementFacts(s, last)
            continue
        yield _facts(s, last, raw.stmt)


def _facts(s: Statement, last: int, node: Any) -> StatementFacts:
    if isinstance(node, ast.CreateStmt):
        return StatementFacts(s, last, creates=frozenset({_table(node.relation)}))
    if isinstance(node, ast.CreateTableAsStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        into: Any = node.into
        return StatementFacts(s, last, creates=frozenset({_table(into.rel)}))
    if isinstance(node, ast.IndexStmt | ast.AlterTableStmt) and node.relation is not None:
        return StatementFacts(s, last, targets=frozenset({_table(node.relation)}))
    if isinstance(node, ast.ReindexStmt) and node.relation is not None:
        return StatementFacts(s, last, targets=frozenset({_table(node.relation)}))
    if isinstance(node, ast.TruncateStmt):
        return StatementFacts(s, last, targets=frozenset(_table(r) for r in node.relations or ()))
    if isinstance(node, ast.RenameStmt) and node.relation is not None:
        table = _table(node.relation)
        renames: tuple[tuple[TableName, TableName], ...] = ()
        if node.renameType == enums.ObjectType.OBJECT_TABLE:
            renames = ((table, (table[0], str(node.newname))),)
        return StatementFacts(s, last, targets=frozenset({table}), renames=renames)
    if isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_TABLE:
        tables = set()
        for obj in node.objects or ():
            parts = [str(p.sval) for p in obj if isinstance(p, ast.String)]
            if parts:
                tables.add((parts[-2] if len(parts) > 1 else "public", parts[-1]))
        return StatementFacts(s, last, targets=frozenset(tables))
    return StatementFacts(s, last)


def _table(rangevar: Any) -> TableName:
    return (str(rangevar.schemaname or "public"), str(rangevar.relname))


def _statement_at(facts: Sequence[StatementFacts], line: int) -> StatementFacts | None:
    """The statement whose lines hold `line` (squawk points into it; a finding on a comment line
    before a statement belongs to the statement after it)."""
    for fact in facts:
        if fact.statement.line <= line <= fact.last_line:
            return fact
    following = [f for f in facts if f.statement.line > line]
    return following[0] if following else None


_CATEGORY_ORDER: tuple[Category, ...] = ("lock", "loss", "clients", "engine", "style", "meta")


def render_rule_table() -> str:
    """The Markdown table of docs/safety.md (a unit test keeps the page equal to it)."""
    lines = ["| rule | up files | down files | why |", "|---|---|---|---|"]
    ranked = sorted(RULES.items(), key=lambda kv: (_CATEGORY_ORDER.index(kv[1].category), kv[0]))
    for name, rule in ranked:
        up: str = rule.default("up") or "ignored"
        down: str = rule.default("down") or "ignored"
        if rule.opt_in:
            up, down = f"off (opt-in; {up} when named)", f"off (opt-in; {down} when named)"
        lines.append(f"| `{name}` | {up} | {down} | {rule.why} |")
    return "\n".join(lines) + "\n"
