"""Hypothesis strategies shared by unit and integration tests."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import strategies as st

# Password fragments that cannot occur in any message by chance, joined by the characters that
# break URIs and key=value strings.
WORDS = st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789",
                min_size=5, max_size=9).map(lambda w: "Zq" + w)  # fmt: skip
BREAKERS = st.sampled_from([
    " ", "\t", "%", "%zz", "%2", "%00", "%41", "@", "/", ":", "?", "#", "[", "]", "'", '"',
    "\\", "&", "=", ",", "", "%20", "ü",
])  # fmt: skip


@st.composite
def passwords(draw: st.DrawFn) -> tuple[str, list[str]]:
    words = draw(st.lists(WORDS, min_size=1, max_size=3))
    parts = [draw(BREAKERS)]
    for word in words:
        parts += [word, draw(BREAKERS)]
    return "".join(parts), words


TEMPLATES = [
    "postgresql://migrator:{pw}@127.0.0.1:1/db",
    "postgres://migrator:{pw}@127.0.0.1:1/db?sslmode=disable",
    "postgresql://migrator:{pw}@127.0.0.1:99999/db",
    "postgresql://migrator:{pw}@[::1:1/db",
    "postgresql://migrator:{pw}@127.0.0.1:1/db?x",
    "postgresql://migrator:{pw}@127.0.0.1:1/db?application_name=a b",
    "postgresql://127.0.0.1:1/db?password={pw}",
    "host=127.0.0.1 port=1 password={pw}",
    "host=127.0.0.1 port=1 password='{pw}",
    "host=127.0.0.1 port=1 password={pw} dbname",
]


def leaked(text: str, password: str, words: list[str]) -> list[str]:
    forms = {password, unquote(password), *words}
    return [f for f in forms if len(f) >= 4 and f in text]
