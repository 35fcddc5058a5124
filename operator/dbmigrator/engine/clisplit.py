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


@dataclass
class _Scanner:
    buf: list[str] = field(default_factory=list)
    mode: _Mode = _Mode.READY
    closers: list[str] = field(default_factory=list)  # open `(` / ATOMIC, innermost last
    quote: str = ""
    quote_closing: bool = False
    until: str = ""
    tag_start: int = 0
    depth: int = 0

    def ends_with(self, text: str, *, fold: bool = False) -> bool:
        if len(self.buf) < len(text):
            return False
        tail = "".join(self.buf[-len(text) :])
        return tail.lower() == text.lower() if fold else tail == text

    def feed(self, char: str) -> bool:
        """Take one character; True when it ends a statement."""
        self.buf.append(char)
        mode = self.mode
        if mode is _Mode.DASH:
            if char == "-":
                self._enter_until("\n")
                return False
            return self._ready(char)
        if mode is _Mode.SLASH:
            if self.ends_with("/*"):
                self.depth += 1
            elif self.depth == 0:
                return self._ready(char)
            elif self.ends_with("*/"):
                self.depth -= 1
                if self.depth == 0:
                    self._back_to_ready()
            return False
        if mode is _Mode.QUOTE:
            if self.quote_closing:
                if char == self.quote:
                    self.quote_closing = False
                    return False
                return self._ready(char)
            self.quote_closing = char == self.quote
            return False
        if mode is _Mode.UNTIL:
            if self.ends_with(self.until):
                self._back_to_ready()
            return False
        if mode is _Mode.TAG:
            if char == "$":
                self._enter_until("".join(self.buf[self.tag_start :]))
                return False
            if char.isalpha() or char.isdecimal() or char == "_":
                return False
            return self._ready(char)
        if mode is _Mode.ESCAPE:
            self._back_to_ready()
            return False
        return self._ready(char)

    def _enter_until(self, closing: str) -> None:
        self.mode, self.until = _Mode.UNTIL, closing

    def _back_to_ready(self) -> None:
        """Back to plain text: an open `(` or ATOMIC may close with what was just read."""
        self.mode = _Mode.READY
        self._close()

    def _close(self) -> None:
        while self.closers and self.ends_with(self.closers[-1], fold=True):
            self.closers.pop()

    def _ready(self, char: str) -> bool:
        """A character read in plain text."""
        self.mode = _Mode.READY
        if char == "$":
            self.mode, self.tag_start = _Mode.TAG, len(self.buf) - 1
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
        elif char in "cC" and self.ends_with("atomic", fold=True):
            self.closers.append("end")
        else:
            self._close()
        return False


def split_like_cli(text: str) -> tuple[str, ...]:
    """The statements the Supabase CLI would record for a file with this text."""
    pieces: list[str] = []
    scanner = _Scanner()
    for char in text:
        if scanner.feed(char):
            pieces.append("".join(scanner.buf))
            scanner = _Scanner()
    if scanner.buf:
        pieces.append("".join(scanner.buf))
    trimmed = (piece.rstrip(";").strip(_GO_SPACE) for piece in pieces)
    return tuple(piece for piece in trimmed if piece)
