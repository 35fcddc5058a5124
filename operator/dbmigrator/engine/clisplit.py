"""A migration file's statements as the Supabase CLI splits them. Pure.

The Supabase CLI (2.x) records each applied file in `supabase_migrations.schema_migrations` with
`statements`: the file split by its own scanner (pkg/parser of github.com/supabase/cli), not by
the PostgreSQL grammar. `supabase migration fetch` writes files back from these rows, and rows
the CLI wrote have no dbmigrator history, so comparing them with a file needs the same split.
This is our own implementation of the behaviour read from that package (state.go, token.go,
SplitAndTrim) and pinned by tests/unit/test_engine_clisplit.py:

* a statement ends at a `;` outside quotes, comments, parentheses and BEGIN ATOMIC bodies; the
  text after the last `;` is a statement too;
* each piece then loses its trailing `;` and surrounding whitespace; empty pieces are dropped.
  So comments are kept: a comment before a statement belongs to it, and a comment after the
  last `;` is a "statement" of its own;
* `'…'` and `"…"` (a doubled quote stays inside), `$tag$…$tag$`, `--` to the end of the line,
  `/* … */` (nesting) and a backslash (escapes the next character) hide a `;`;
* `(` hides `;` until a `)` outside quotes; that first `)` closes every open parenthesis (the
  CLI keeps no depth count: `((a) ; b)` splits at that `;`);
* once the last six characters read `atomic` (any case, also inside a longer word), `;` is
  hidden until the next `end` (any case, also inside a word such as `append`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum, auto


class _Mode(Enum):
    READY = auto()
    DASH = auto()  # one `-` seen: a comment if another follows
    SLASH = auto()  # inside `/`… (a block comment once `*` follows)
    QUOTE = auto()
    UNTIL = auto()  # until a closing text: a dollar-quote's tag, or "\n" for a line comment
    TAG = auto()  # `$` seen: maybe a dollar-quote's opening tag
    ESCAPE = auto()


# Go's unicode.IsSpace (strings.TrimSpace); Python's str.strip() would also take \x1c-\x1f.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


# In plain text only these characters change anything, and a `c` only where it ends `atomic`;
# inside `(` also the `)` that may close it, inside ATOMIC the `d` that ends an `end`. (Any other
# `c` or `d` would only try to close a `)` or an `end`, which it cannot end.)
_ATOMIC = "(?<=[aA][tT][oO][mM][iI])[cC]"
_NOT_ATOMIC = "(?<![aA][tT][oO][mM][iI])[cC]"
_SPECIAL = re.compile(rf"""[$'"\-/\\;(]|{_ATOMIC}""")
_SPECIAL_IN = {
    ")": re.compile(rf"""[$'"\-/\\;()]|{_ATOMIC}"""),
    "end": re.compile(rf"""[$'"\-/\\;(]|{_ATOMIC}|(?<=[eE][nN])[dD]"""),
}
_QUOTED = {"'": re.compile(r"'(?:[^']|'')*+'"), '"': re.compile(r'"(?:[^"]|"")*+"')}

# A whole statement of plain text, quoted texts and `(…)` groups (of plain text, quotes and `(`:
# the first `)` closes them all), up to its `;`, in one match. Anything else (a `$`, `-`, `/`,
# backslash, an `atomic`) fails the match and the statement is read character by character.
# Possessive: the quotes are read as the scanner reads them, with no second interpretation.
_PLAIN = rf"""[^$'"\-/\\;(cC]|{_NOT_ATOMIC}"""
_QUOTE = "|".join(quoted.pattern for quoted in _QUOTED.values())
_GROUP = rf"""\((?:[^$'"\-/\\;()cC]|{_NOT_ATOMIC}|\(|{_QUOTE})*+\)"""
_SIMPLE_STATEMENT = re.compile(rf"(?:{_PLAIN}|{_QUOTE}|{_GROUP})*+;")


@dataclass
class _Scanner:
    """The CLI's scanner over `text`; the statement being read is text[start:i + 1]."""

    text: str
    start: int = 0
    mode: _Mode = _Mode.READY
    closers: list[str] = field(default_factory=list)  # open `(` / ATOMIC, innermost last
    quote: str = ""
    quote_closing: bool = False
    until: str = ""
    tag_start: int = 0
    depth: int = 0

    def restart(self, start: int) -> None:
        self.start, self.mode, self.closers = start, _Mode.READY, []

    def ends_with(self, i: int, text: str, *, fold: bool = False) -> bool:
        begin = i + 1 - len(text)
        if begin < self.start:
            return False
        tail = self.text[begin : i + 1]
        return tail.lower() == text.lower() if fold else tail == text

    def feed(self, i: int) -> bool:
        """Take the character at `i`; True when it ends a statement."""
        char = self.text[i]
        mode = self.mode
        if mode is _Mode.DASH:
            if char == "-":
                self._enter_until("\n")
                return False
            return self._ready(i, char)
        if mode is _Mode.SLASH:
            if self.ends_with(i, "/*"):
                self.depth += 1
            elif self.depth == 0:
                return self._ready(i, char)
            elif self.ends_with(i, "*/"):
                self.depth -= 1
                if self.depth == 0:
                    self._back_to_ready(i)
            return False
        if mode is _Mode.QUOTE:
            if self.quote_closing:
                if char == self.quote:
                    self.quote_closing = False
                    return False
                return self._ready(i, char)
            self.quote_closing = char == self.quote
            return False
        if mode is _Mode.UNTIL:
            if self.ends_with(i, self.until):
                self._back_to_ready(i)
            return False
        if mode is _Mode.TAG:
            if char == "$":
                self._enter_until(self.text[self.tag_start : i + 1])
                return False
            if char.isalpha() or char.isdecimal() or char == "_":
                return False
            return self._ready(i, char)
        if mode is _Mode.ESCAPE:
            self._back_to_ready(i)
            return False
        return self._ready(i, char)

    def _enter_until(self, closing: str) -> None:
        self.mode, self.until = _Mode.UNTIL, closing

    def _back_to_ready(self, i: int) -> None:
        """Back to plain text: an open `(` or ATOMIC may close with what was just read."""
        self.mode = _Mode.READY
        self._close(i)

    def _close(self, i: int) -> None:
        while self.closers and self.ends_with(i, self.closers[-1], fold=True):
            self.closers.pop()

    def _ready(self, i: int, char: str) -> bool:
        """A character read in plain text."""
        self.mode = _Mode.READY
        if char == "$":
            self.mode, self.tag_start = _Mode.TAG, i
        elif char in "'\"":
            self.mode, self.quote, self.quote_closing = _Mode.QUOTE, char, False
        elif char == "-":
            self.mode = _Mode.DASH
        elif char == "/":
            self.mode, self.depth = _Mode.SLASH, 0
        elif char == "\\":
            self.mode = _Mode.ESCAPE
        elif char == ";" and not self.closers:
            return True
        elif char == "(":
            self.closers.append(")")
        elif char in "cC" and self.ends_with(i, "atomic", fold=True):
            self.closers.append("end")
        else:
            self._close(i)
        return False


def split_like_cli(text: str, *, skip: bool = True) -> tuple[str, ...]:
    """The statements the Supabase CLI would record for a file with this text.

    `skip` jumps over characters that cannot change the scanner's state (plain text, the inside
    of quotes and comments); False feeds every character, the plain form tests compare with."""
    pieces: list[str] = []
    scanner = _Scanner(text)
    i, size = 0, len(text)
    simple = skip  # try the statement being read as a _SIMPLE_STATEMENT
    while i < size:
        if skip:
            if simple and scanner.mode is _Mode.READY and not scanner.closers:
                found = _SIMPLE_STATEMENT.match(text, i)
                if found is not None:
                    pieces.append(text[scanner.start : found.end()])
                    scanner.restart(i := found.end())
                    continue
                simple = False  # until this statement ends
            i = _next_that_matters(scanner, i)
            if i < 0:
                break
            if scanner.mode is _Mode.READY and text[i] in _QUOTED:
                # A whole quoted text at once: it ends at its closing quote (a doubled one stays
                # inside); then the next character is read in plain text, as the scanner does.
                found = _QUOTED[text[i]].match(text, i)
                if found is None:
                    break  # unterminated: the rest belongs to the statement being read
                i = found.end()
                continue
        if scanner.feed(i):
            pieces.append(text[scanner.start : i + 1])
            scanner.restart(i + 1)
            simple = skip
        i += 1
    if scanner.start < size:
        pieces.append(text[scanner.start :])
    trimmed = (piece.rstrip(";").strip(_GO_SPACE) for piece in pieces)
    return tuple(piece for piece in trimmed if piece)


def _next_that_matters(scanner: _Scanner, i: int) -> int:
    """The first index from `i` whose character may change the state (-1: none; the rest of
    the text then only belongs to the statement being read)."""
    text, mode = scanner.text, scanner.mode
    if mode is _Mode.READY:
        closers = scanner.closers
        found = (_SPECIAL_IN[closers[-1]] if closers else _SPECIAL).search(text, i)
        return found.start() if found else -1
    if mode is _Mode.UNTIL:  # the closing text may overlap what was read already
        end = text.find(scanner.until, max(i + 1 - len(scanner.until), scanner.start))
        return max(end + len(scanner.until) - 1, i) if end >= 0 else -1
    if mode is _Mode.QUOTE and not scanner.quote_closing:
        return text.find(scanner.quote, i)
    return i
