"""Errors a user sees: one located line, never a traceback."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """A position in a spec file (1-based line and column, as editors show them)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


MAX_MESSAGE = 600  # characters of one error message


class SpecError(Exception):
    """Bad input: a spec, an answer sheet or a command-line value. Exit code 2."""

    def __init__(self, message: str, loc: Loc | None = None, layer: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.layer = layer  # the qualified name of the layer it concerns, when there is one

    @property
    def message(self) -> str:
        """The message, the options it advises worded as the running caller words them
        (``words_of``; the library's own words where no caller has said)."""
        return worded(self._message, _WORDS.get() or neutral_option)

    @message.setter
    def message(self, text: str) -> None:
        self._message = text

    def in_words(self, word) -> str:
        """The message with the options it advises worded by ``word(name, value)``."""
        return worded(self._message, word)

    @property
    def file(self) -> str | None:
        return self.loc.file if self.loc else None

    @property
    def line(self) -> int | None:
        return self.loc.line if self.loc and self.loc.line else None

    @property
    def column(self) -> int | None:
        return self.loc.col if self.loc and self.loc.line else None

    def located(self, loc: Loc | None) -> "SpecError":
        """Attach a location if the error has none yet."""
        if self.loc is None and loc is not None:
            self.loc = loc
        return self

    def __str__(self) -> str:
        message = self.message
        if len(message) > MAX_MESSAGE:  # a message quoting a megabyte-long word stays short
            message = message[:MAX_MESSAGE - 3] + "..."
        text = f"{self.loc}: {message}" if self.loc else message
        return printable(text)


# An option a message advises (``--samples``, ``--limit NAME=N``), kept in its text as data:
# OPTION_MARK, the option's parameter name, VALUE_MARK and its value (optional), OPTION_MARK.
# Reading an error's ``message`` words it as the running caller does (``words_of``).
OPTION_MARK, VALUE_MARK = "\x1f", "\x1e"
OPTIONS = ("limits", "samples", "ranges", "rf", "device", "set", "convention", "over", "what",
           "plot", "explain", "spec_roots", "batch", "columns", "units",
           "allow_unknown", "want", "for", "range")
_OPTION = re.compile(f"{OPTION_MARK}({'|'.join(OPTIONS)})(?:{VALUE_MARK}([^{OPTION_MARK}]*))?"
                     f"{OPTION_MARK}")


def option(name: str, value: str | None = None) -> str:
    """The option ``name`` of the library's calls (``samples``, ``rf``; ``limits`` with a
    limit's name as its value), with the value it advises, as a message holds it until a
    caller words it with ``worded``."""
    assert name in OPTIONS, name
    return f"{OPTION_MARK}{name}{'' if value is None else VALUE_MARK + str(value)}{OPTION_MARK}"


def worded(text: str, word) -> str:
    """``text`` with each option in it worded by ``word(name, value)`` (value None when the
    message names the option alone)."""
    if OPTION_MARK not in text:
        return text
    return _OPTION.sub(lambda m: word(m.group(1), m.group(2)), text)


_WORDS: ContextVar = ContextVar("archcalc_words", default=None)


@contextmanager
def words_of(word):
    """Word the options that messages advise with ``word(name, value)`` in the block, where
    ``str(error)`` of an error (as a result's text holds it) speaks the caller's language."""
    token = _WORDS.set(word)
    try:
        yield
    finally:
        _WORDS.reset(token)


def explain_option(spec: str, at: str, metric: str) -> str:
    """The advice to explain ``metric`` of layer ``at`` of ``spec``, worded by the caller."""
    import json

    return option("explain", json.dumps([spec, at, metric]))


def spoken(text: str) -> str:
    """``text`` with its options worded as the running caller words them: for text kept
    in a result (a graded answer's note), which no caller words later."""
    return worded(text, _WORDS.get() or neutral_option)


def neutral_option(name: str, value: str | None) -> str:
    """How the library's own messages name an option: as its call's parameter
    (``rf='off'``), a limit as 'the limit NAME'."""
    if name == "limits":
        return neutral_limit(value)
    if name == "ranges":
        return "ranges={NAME: (LO, HI)}" if value is None else f"ranges[{value!r}]"
    if name == "allow_unknown":
        return "allow_unknown=True"
    if name == "for":  # solve's symbols: ``for_`` (``for`` is Python's)
        return "for_=" if value is None else f"for_={value!r}"
    if name == "range":  # solve's ranges, one per symbol
        return "range={...}" if value is None else f"range={{{value!r}: ...}}"
    if name == "explain":
        import json

        spec, at, metric = json.loads(value)
        return f"archcalc.analyse({spec!r}).explain({at!r}, {metric!r})"
    if name == "batch":
        return "the batch sweep"  # (Memory.sweep(batches) in the API)
    if name == "spec_roots" and value is not None:
        return f"spec_roots=[{value!r}]"
    if name == "set" and value is not None and "=" in value:
        symbol, _, given = value.partition("=")
        return f"set={{{symbol!r}: {given}}}"
    if value is None:
        return f"{name}="
    return f"{name}={value}" if value.isdigit() else f"{name}={value!r}"


OPTION_FLAGS = {"samples": "--samples", "ranges": "--range", "rf": "--rf", "device": "--device",
                "set": "--set", "convention": "--convention", "over": "--over",
                "what": "--what", "plot": "--plot", "spec_roots": "--spec-root",
                "batch": "--batch", "columns": "--columns", "units": "--units",
                "allow_unknown": "--allow-unknown", "want": "--want", "for": "--for",
                "range": "--range"}


def flag_option(name: str, value: str | None) -> str:
    """How the command line names an option a message advises: ``--rf off``,
    ``--limit NAME=N``."""
    if name == "limits":
        return f"--limit {value}=N"
    if name == "ranges" and value is None:
        return "--range NAME=LO:HI"
    if name == "want" and value is not None:
        return f"--want '{value}'"
    if name == "explain":
        import json
        import shlex

        spec, at, metric = json.loads(value)
        return f"archcalc explain {shlex.quote(spec)} {shlex.quote(at)} --metric {metric}"
    flag = OPTION_FLAGS[name]
    return flag if value is None else f"{flag} {value}"


def _with(set_word: str | None) -> str:
    """' with --set' (or the caller's word for binding symbols); '' in the library's own."""
    return f" with {set_word}" if set_word else ""


def neutral_limit(name: str) -> str:
    """How the library's own messages name a limit to raise (the CLI says --limit NAME=N)."""
    return f"the limit {name}"


class LimitReached(SpecError):
    """A closed form grew past a limit, as data: ``text`` (what happened, located by the
    caller), the ``limit`` to raise, whether binding symbols also helps (``bind``) and what
    the advice may guess first (``aside``: 'an alias bomb? ').
    ``worded`` says how to bind and raise in the caller's own terms."""

    def __init__(self, text: str, limit: str, loc: Loc | None = None, bind: bool = False,
                 aside: str = ""):
        self.text, self.limit, self.bind, self.aside = text, limit, bind, aside
        super().__init__(self.worded(None, lambda name: option("limits", name)), loc)

    def worded(self, set_word: str | None, limit_word) -> str:
        if self.bind:
            return f"{self.text}; bind symbols{_with(set_word)}, or raise " \
                f"{limit_word(self.limit)}"
        return f"{self.text} ({self.aside}raise with {limit_word(self.limit)})"


class Unbound(SpecError):
    """A value the spec needs as a number (a repeat count) depends on free symbols: ``text``
    says which; ``worded`` says how to bind them in the caller's terms."""

    def __init__(self, text: str, loc: Loc | None = None):
        self.text = text
        super().__init__(self.worded(None), loc)

    def worded(self, set_word: str | None) -> str:
        return f"{self.text}; bind its symbols{_with(set_word)}"


class TimeLimitExceeded(BaseException):
    """A command ran past ``max_seconds`` (raised from a timer signal).

    A BaseException so that no ``except Exception`` inside sympy or a rule can swallow it.
    """

    def __init__(self, seconds: float, loc: Loc | None = None, doing: str | None = None):
        super().__init__(seconds)
        self.seconds = seconds
        self.loc = loc
        self.doing = doing  # what the command was busy with: "reading the spec", …

    def __str__(self) -> str:
        return worded(self.worded(None, lambda name: option("limits", name)),
                      _WORDS.get() or neutral_option)

    def worded(self, set_word: str | None, limit_word) -> str:
        """The message, saying how to bind symbols and raise the limit in the caller's terms."""
        where = f"{self.loc}: " if self.loc else ""
        doing = f" {self.doing}" if self.doing else ""
        advice = f"bind symbols{_with(set_word)}, or " if "closed forms" in doing else ""
        return f"{where}gave up after {self.seconds:g} s{doing} ({advice}raise " \
            f"{limit_word('max_seconds')})"


class Progress:
    """Where a command is: the loader and the analysis set ``loc`` to the spec value or
    layer at hand as they go (None between them), so that a time-out can say where it
    stopped without looking at the stack."""

    __slots__ = ("loc",)

    def __init__(self):
        self.loc: Loc | None = None


_PROGRESS: ContextVar[Progress | None] = ContextVar("archcalc_progress", default=None)


def progress() -> Progress:
    """The progress of the command running in this context; a fresh one, read by no one,
    when no command tracks it (a call of the Python API)."""
    return _PROGRESS.get() or Progress()


@contextmanager
def tracked():
    """Track the progress of the block's work: yields the Progress it fills."""
    token = _PROGRESS.set(Progress())
    try:
        yield _PROGRESS.get()
    finally:
        _PROGRESS.reset(token)


def printable(text: str) -> str:
    """``text`` with control and invisible formatting characters escaped, so that a message
    quoting a hostile file shows what is there and cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def did_you_mean(word: str, choices) -> str:
    """' — did you mean 'x'?' for the closest choice, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""
