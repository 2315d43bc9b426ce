"""A small LALR(1) driver that runs lark's own tables for ``grammar/lrdsl.lark`` without lark.

Lark builds the tables from the grammar (the single source of the language); :func:`tables`
copies what a parse needs out of a lark parser (contextual lexer and LALR, the builder as its
transformer) into plain data that :mod:`marshal` stores: per parser state, its actions and the
regular expression of the terminals its contextual lexer accepts; per rule, which children
its callback keeps (lark's child filter, read from lark itself), whether a single child
stands for the rule (``?rule``) and the builder method. :class:`Driver` then parses with
those, calling the same builder methods in the same order as lark would, so a text gives the
same AST; it skips lark's token objects, its wrappers and its per-token bookkeeping (about
twice as fast), and a process that finds the tables in the user cache never imports lark.

It only accepts: on any text lark would reject (an unexpected character or token), it raises
:class:`Refused`, and the caller parses with lark, whose error it reports. Tables that use a
feature the driver does not copy (terminal callbacks, regex flags, more than one regular
expression per state) are not made (:func:`tables` returns None).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

FORMAT = 1  # bumped when the layout of the tables changes
_END = "$END"


class Refused(Exception):
    """The driver stops here; lark parses the text again and says what is wrong with it."""


class Token:
    """A terminal the builder reads: its text and where it starts (1-based line and column), as
    lark's tokens have them."""

    __slots__ = ("value", "line", "column")

    def __init__(self, value: str, line: int, column: int):
        self.value, self.line, self.column = value, line, column


def tables(lark_parser, builder, grammar: str) -> Optional[Dict[str, Any]]:
    """The driver's tables copied from ``lark_parser`` (built from ``grammar`` with ``builder`` as
    its transformer), with that grammar; None when the parser uses something the driver
    does not copy."""
    from lark.parse_tree_builder import maybe_create_child_filter
    from lark.parsers.lalr_analysis import Shift

    frontend = lark_parser.parser
    lalr = frontend.parser.parser
    conf = lark_parser.lexer_conf
    if conf.g_regex_flags or conf.callbacks or conf.use_bytes or any(isinstance(k, str) for k in lalr.callbacks):
        return None
    rules = list(lark_parser.rules)
    index = {rule: number for number, rule in enumerate(rules)}
    states = {
        state: {str(symbol): (arg if action is Shift else ~index[arg]) for symbol, (action, arg) in actions.items()}
        for state, actions in lalr.parse_table.states.items()
    }
    if sorted(states) != list(range(len(states))):
        return None
    copied_rules = []
    for rule in rules:
        found = maybe_create_child_filter(
            rule.expansion,
            rule.options.keep_all_tokens,
            False,
            (rule.options.empty_indices or []) if lark_parser.options.maybe_placeholders else [],  # [] as None
        )
        if found is None:
            include, after = [(i, False, 0) for i in range(len(rule.expansion))], 0
        elif len(found.args) == 2:  # with placeholders: (to_include, nones after the last child)
            include, after = [(i, bool(x), int(n)) for i, x, n in found.args[0]], int(found.args[1])
        else:
            include, after = [(i, bool(expand), 0) for i, expand in found.args[0]], 0
        name = str(rule.alias or rule.options.template_source or rule.origin.name)
        method = name if callable(getattr(builder, name, None)) else None
        expand1 = bool(rule.options.expand1 and not rule.alias)
        single = expand1 and after == 0 and len(include) == 1 and include[0][1:] == (False, 0)
        if method is None and not (single or rule.origin.name.startswith("_")):
            return None  # lark would make a Tree: only its inlined helper rules (``_rule``) may
        copied_rules.append((str(rule.origin.name), len(rule.expansion), tuple(include), after, expand1, method))
    lexers: Dict[int, int] = {}
    scanners: List[tuple] = []
    seen: Dict[int, int] = {}
    for state, lexer in frontend.lexer.lexers.items():
        if id(lexer) not in seen:
            scanner = lexer.scanner
            if len(scanner._mres) != 1:
                return None
            keywords = {}
            for terminal, callback in lexer.callback.items():
                strings = getattr(callback, "scanner", None)
                if strings is None or any(t.pattern.type != "str" or t.pattern.flags for t in strings.terminals):
                    return None
                keywords[str(terminal)] = {str(t.pattern.value): str(t.name) for t in strings.terminals}
            seen[id(lexer)] = len(scanners)
            scanners.append(
                (
                    str(scanner._mres[0].pattern),
                    keywords,
                    sorted(map(str, lexer.ignore_types)),
                    sorted(map(str, lexer.newline_types)),
                )
            )
        lexers[state] = seen[id(lexer)]
    if sorted(lexers) != list(range(len(states))):
        return None
    kept = sorted(
        {str(rule.expansion[i].name) for rule, copied in zip(rules, copied_rules) for i, _, _ in copied[2]}
    )  # the terminals some callback reads: only these become tokens
    return {
        "format": FORMAT,
        "grammar": grammar,
        "states": [states[state] for state in range(len(states))],
        "start": lalr.parse_table.start_states["start"],
        "end": lalr.parse_table.end_states["start"],
        "rules": copied_rules,
        "lexers": [lexers[state] for state in range(len(states))],
        "scanners": scanners,
        "kept": kept,
    }


class Driver:
    """Parses with :func:`tables`' tables, building nodes with ``builder``'s methods."""

    def __init__(self, data: Dict[str, Any], builder):
        self._states = data["states"]
        self._start, self._end = data["start"], data["end"]
        self._rules = [
            (origin, size, include, after, expand1, getattr(builder, method) if method is not None else None)
            for origin, size, include, after, expand1, method in data["rules"]
        ]
        # a chain rule (``?sum: product``) leaves its one child as it is: only the state changes
        self._chains = [
            origin if size == 1 and include == ((0, False, 0),) and not after and expand1 else None
            for origin, size, include, after, expand1, _ in data["rules"]
        ]
        self._chained: Dict[Tuple[int, int, str], int] = {}
        self._lexer_of = data["lexers"]
        self._scanner_data = data["scanners"]
        self._scanners: List[Optional[tuple]] = [None] * len(self._scanner_data)
        self._kept = frozenset(data["kept"])

    def _chain(self, below: int, top: int, kind: str) -> int:
        """The state that a run of chain rules ends in, from ``top`` over ``below`` before the token
        ``kind``: each one changes only the top state, and each goes from ``below``, so the run
        depends on these three alone (remembered: a parse meets a few dozen runs, each many times).
        The run stops before any other action, and at the end state."""
        states, chains = self._states, self._chains
        state = top
        while True:
            state = states[below][chains[~states[state][kind]]]
            action = states[state].get(kind)
            if state == self._end or action is None or action >= 0 or chains[~action] is None:
                self._chained[below, top, kind] = state
                return state

    def _scanner(self, number: int) -> tuple:
        """The compiled scanner ``number`` (compiled on first use: most states are rarely met)."""
        pattern, keywords, ignore, newline = self._scanner_data[number]
        scanner = (re.compile(pattern).match, keywords, frozenset(ignore), frozenset(newline))
        self._scanners[number] = scanner
        return scanner

    def parse(self, text: str):
        """The value the builder makes of ``text``; :class:`Refused` where lark would raise."""
        states, rules, chains, lexer_of, scanners, kept = (
            self._states,
            self._rules,
            self._chains,
            self._lexer_of,
            self._scanners,
            self._kept,
        )
        end_state, chained = self._end, self._chained
        stack = [self._start]
        values: List[Any] = []
        pos, length, line, line_start = 0, len(text), 1, 0
        while True:
            state = stack[-1]
            if pos < length:
                number = lexer_of[state]
                match, keywords, ignore, newline = scanners[number] or self._scanner(number)
                found = match(text, pos)
                if found is None:
                    raise Refused
                kind, value = found.lastgroup, found.group()
                if kind in ignore:
                    if kind in newline and "\n" in value:
                        line += value.count("\n")
                        line_start = pos + value.rindex("\n") + 1
                    pos = found.end()
                    continue
                if kind in keywords:
                    kind = keywords[kind].get(value, kind)
                token = Token(value, line, pos - line_start + 1) if kind in kept else None
                pos = found.end()
            else:
                kind, token = _END, None
            while True:  # reduce as long as the table says, then shift the token
                action = states[state].get(kind)
                if action is None:
                    raise Refused
                if action >= 0:
                    if kind is _END:
                        raise Refused  # lark asserts this never happens
                    stack.append(action)
                    values.append(token)
                    break
                if chains[~action] is not None:
                    below = stack[-2]
                    state = stack[-1] = chained.get((below, state, kind)) or self._chain(below, state, kind)
                else:
                    origin, size, include, after, expand1, method = rules[~action]
                    children = values[-size:] if size else []
                    if size:
                        del stack[-size:]
                        del values[-size:]
                    kept_children: List[Any] = []
                    for i, expand, nones in include:
                        if nones:
                            kept_children += [None] * nones
                        if expand:
                            kept_children += children[i]
                        else:
                            kept_children.append(children[i])
                    if after:
                        kept_children += [None] * after
                    if expand1 and len(kept_children) == 1:
                        value = kept_children[0]
                    else:
                        value = kept_children if method is None else method(kept_children)
                    state = states[stack[-1]][origin]
                    stack.append(state)
                    values.append(value)
                if state == end_state and kind is _END:
                    return values[-1]
