"""squawk's rules and what this project makes of each: category, default level, reason (pure).

The rule names are the API of `spec.validation.lint` and the checks file's `lint:` (the CRD
carries them as an enum, so `kubectl apply` refuses a misspelt rule; a unit test checks them
against the squawk binary). squawk (2.70) reports every finding at level Warning; the defaults
here decide what stops a run: lock and rewrite risks on existing tables and data loss are
errors, rules whose risk the engine already removes (it sets lock_timeout/statement_timeout per
file, owns the transactions, runs CREATE INDEX CONCURRENTLY outside one) are ignored, the rest
are warnings. In down files, dropping what the up file created (and renaming back) is a warning:
that is what a down file is for, and the operator backs up before a rollback. docs/safety.md
shows this table (`render_rule_table`); `engine/lintrules.py` applies it to squawk's findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

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

LINT_RULES: tuple[str, ...] = tuple(sorted(RULES))
"""Every rule name, sorted: the CRD's enum and the list in error messages."""


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
