"""The query language's lexer: query text into tokens (words, phrases, regexes, operators,
field prefixes), each with its offsets in the text for error messages."""

from __future__ import annotations

import re
from typing import NamedTuple

import regex

from watcher.rules.query import ALL_FIELDS, DEFAULT_NEAR, QuerySyntaxError


class Token(NamedTuple):
    """A named tuple, not a dataclass: a rules.yaml of 10,000 queries makes 70,000 of them
    in each process that reads it, and a frozen dataclass sets each field in Python."""

    kind: str  # ( ) AND OR NOT - NEAR FIELD = WORD PHRASE REGEX END
    text: str
    start: int
    end: int
    distance: int = 0
    ordered: bool = False


_FIELD_RE = regex.compile(r"([A-Za-z]+):(?!//)")
_NEAR_RE = regex.compile(r"(O?NEAR)(?:/(.*))?")
_STOP = frozenset(' \t\r\n()"')
# A word runs to the next stop character; found by ``re`` rather than a loop over characters.
_WORD = re.compile(f"[^{re.escape(''.join(sorted(_STOP)))}]+")


def lex(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, size = 0, len(text)
    while pos < size:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in "()":
            tokens.append(Token(char, char, pos, pos + 1))
            pos += 1
        elif char == '"':
            close = text.find('"', pos + 1)
            if close < 0:
                raise QuerySyntaxError("unterminated phrase (missing closing \")", pos + 1)
            tokens.append(Token("PHRASE", text[pos:close + 1], pos, close + 1))
            pos = close + 1
        elif char == "/":
            pos = _lex_regex(text, pos, tokens)
        elif char == "-" and pos + 1 < size and not text[pos + 1].isspace() \
                and text[pos + 1] != ")":
            tokens.append(Token("-", char, pos, pos + 1))  # -term: NOT term
            pos += 1
        elif char == "=" and pos + 1 < size and (text[pos + 1] == '"'
                                                 or text[pos + 1] not in _STOP):
            tokens.append(Token("=", char, pos, pos + 1))  # =US: case-sensitive
            pos += 1
        else:
            found = _WORD.match(text, pos)
            assert found is not None  # char is neither a space nor a stop character
            word, end = found.group(), found.end()
            # A field name and its colon lie inside the run of the word: only a run with a
            # colon can start with one.
            field_match = _FIELD_RE.match(text, pos) if ":" in word else None
            if field_match is None:
                tokens.append(_word_token(word, pos, end))
                pos = end
            elif field_match.end() < size and not text[field_match.end()].isspace():
                tokens.append(Token("FIELD", field_match.group(1), pos, field_match.end()))
                pos = field_match.end()
            else:
                name = field_match.group(1)
                if name.lower() in ALL_FIELDS:
                    raise QuerySyntaxError(
                        f"{name}: needs a word, phrase or (group) right after it", pos + 1)
                raise QuerySyntaxError(unknown_field(name), pos + 1)
    tokens.append(Token("END", "", size, size))
    return tokens


def _lex_regex(text: str, pos: int, tokens: list[Token]) -> int:
    end = pos + 1
    while end < len(text) and text[end] != "/":
        end += 2 if text[end] == "\\" else 1
    if end >= len(text):
        raise QuerySyntaxError("unterminated regex (missing closing /)", pos + 1)
    tokens.append(Token("REGEX", text[pos:end + 1], pos, end + 1))
    return end + 1


def _word_token(word: str, start: int, end: int) -> Token:
    if word in ("AND", "OR", "NOT"):
        return Token(word, word, start, end)
    near = _NEAR_RE.fullmatch(word) if word.startswith(("NEAR", "ONEAR")) else None
    if near:
        ordered = near.group(1) == "ONEAR"
        if near.group(2) is None:
            return Token("NEAR", word, start, end, DEFAULT_NEAR, ordered)
        if not near.group(2).isdigit() or not 0 <= int(near.group(2)) <= 1000:
            raise QuerySyntaxError(
                f"{near.group(1)}/ needs a number of words from 0 to 1000, e.g. "
                f"{near.group(1)}/5", start + 1)
        return Token("NEAR", word, start, end, int(near.group(2)), ordered)
    return Token("WORD", word, start, end)


def unknown_field(name: str) -> str:
    from watcher.config import did_you_mean  # config imports nothing from rules

    hint = did_you_mean(f"{name.lower()}:", [f"{f}:" for f in ALL_FIELDS])
    return f"unknown field '{name}:'{hint}"

