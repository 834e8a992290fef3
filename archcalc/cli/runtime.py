"""What every command does around its work, without typer (the plain analysis commands
run without it, cli/fast.py): the --set, --free, --limit and --format values, the time
limit, the output written in full, and every error turned into one line and an exit code."""

from __future__ import annotations

import contextlib
import sys

from ..errors import SpecError, TimeLimitExceeded

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def _typer_exit(err: BaseException) -> bool:
    """typer's own Exit and Abort (raised by a command to end with a code), when typer runs."""
    typer = sys.modules.get("typer")
    return typer is not None and isinstance(err, (typer.Exit, typer.Abort))


def parse_assignments(items: list[str] | None, what: str) -> dict[str, str]:
    """'A=1' items (and 'A=1,B=2') as a dict of name → text."""
    out: dict[str, str] = {}
    for item in items or []:
        for part in item.split(","):
            name, sep, value = part.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise SpecError(f"{what} '{part}': expected NAME=VALUE")
            out[name.strip()] = value.strip()
    return out


def parse_set(items: list[str] | None, free: list[str] | None = None) -> dict:
    """--set values: numbers or constant expressions ('2**8'), never symbols; each --free
    name maps to None (the loader leaves it a free symbol)."""
    from .. import expr

    out = {}
    for item in free or []:
        for name in item.split(","):
            if not name.strip():
                raise SpecError(f"--free '{item}': expected symbol names, e.g. n_layer,d_model")
            out[name.strip()] = None
    for name, text in parse_assignments(items, "--set").items():
        if name in out and out[name] is None:
            raise SpecError(f"--set {name}={text} and --free {name}: give one of them")
        try:
            out[name] = expr.constant(text)
        except SpecError as e:
            hint = "" if e.message.startswith("too large") else \
                " (a --set value is a number or a constant expression such as 2**8)"
            raise SpecError(f"--set {name}={text}: {e.message}{hint}") from None
    return out


MAX_LIMIT = 10**18  # far above any use, and small enough for every system call it reaches


def apply_limits(items: list[str] | None) -> None:
    from .. import limits

    changes = {}
    for name, text in parse_assignments(items, "--limit").items():
        if not text.isascii() or not text.isdigit():
            raise SpecError(f"--limit {name}={text}: expected a whole number")
        if len(text) > 19 or int(text) > MAX_LIMIT:  # (no int() of a 5,000-digit text)
            raise SpecError(f"--limit {name}={text}: too large (at most 10**18)")
        changes[name] = int(text)
    if changes:
        limits.install(**changes)  # in the command's own context (guarded)


def check_format(fmt: str, allowed=("table", "markdown", "latex", "csv", "json")) -> str:
    if fmt not in allowed:
        from ..errors import did_you_mean

        raise SpecError(f"--format {fmt}: choose from {', '.join(allowed)}"
                        f"{did_you_mean(fmt, allowed)}")
    return fmt


FLAGS = {"cli": "--set", "over": "--over", "for": "--for"}  # where a bound value came from


def _limit_flag(name: str) -> str:
    from ..errors import flag_option

    return flag_option("limits", name)


def in_cli_words(err: BaseException) -> BaseException:
    """The error as the CLI words it: a bound value's problem names the flag that gave it
    (``--set H=2 violates …``), advice names flags (``--limit NAME=N``)."""
    from ..errors import flag_option

    err = _worded(err)
    if isinstance(err, SpecError) and err.in_words(flag_option) != err.message:
        return SpecError(err.in_words(flag_option), err.loc, err.layer)
    return err


def _worded(err: BaseException) -> BaseException:
    from ..errors import LimitReached, Unbound

    if isinstance(err, TimeLimitExceeded) and type(err).__str__ is TimeLimitExceeded.__str__:
        return SpecError(err.worded("--set", _limit_flag))
    if not isinstance(err, SpecError):
        return err
    from ..spec.conditions import SetViolation, plain_values, restate
    from ..spec.loader import SymbolError

    if isinstance(err, LimitReached):
        return SpecError(err.worded("--set", _limit_flag), err.loc, err.layer)
    if isinstance(err, Unbound):
        return SpecError(err.worded("--set"), err.loc, err.layer)
    err = restate(err)
    if isinstance(err, SymbolError):
        flag = "--free" if err.value is None and err.origin == "cli" else \
            FLAGS.get(err.origin, "--set")
        return SpecError(err.worded(flag), err.loc, err.layer)
    if isinstance(err, SetViolation):
        return SpecError(err.worded(lambda v: f"--set {plain_values(v)}"), err.loc, err.layer)
    return err


def fail(err: BaseException) -> SystemExit:
    """Report an error in one line on stderr and return the exit to raise."""
    err = in_cli_words(err)
    if isinstance(err, (SpecError, TimeLimitExceeded)):
        print(f"error: {err}", file=sys.stderr)
        return SystemExit(EXIT_BAD_INPUT)
    if isinstance(err, RecursionError):
        print("error: the input nests too deeply to analyse", file=sys.stderr)
        return SystemExit(EXIT_BAD_INPUT)
    if isinstance(err, MemoryError):
        print("error: out of memory (the input is too large; see --limit)", file=sys.stderr)
        return SystemExit(EXIT_BAD_INPUT)
    from ..errors import printable

    detail = printable(str(err).splitlines()[0][:200]) if str(err) else ""
    print(f"internal error (please report it): {type(err).__name__}: {detail}", file=sys.stderr)
    return SystemExit(EXIT_INTERNAL)


def guarded(fn, *, timed: bool = True):
    """Run a command body in a context of its own (the ``--limit`` values it applies end
    with it; the advice in the text of its results names flags); every exception ends as
    one line and an exit code. ``timed``: stop it after ``max_seconds`` (a command with its
    own time budget may opt out)."""
    import contextvars
    import functools

    from ..errors import flag_option, words_of

    def timed_run(*args, **kwargs):
        with words_of(flag_option), time_limit() if timed else contextlib.nullcontext():
            return fn(*args, **kwargs)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return contextvars.copy_context().run(timed_run, *args, **kwargs)
        except (SystemExit, KeyboardInterrupt, BrokenPipeError):
            raise  # Ctrl-C, and a closed stderr, end as typer and the fast path end them
        except BaseException as err:  # noqa: BLE001 - the CLI must never show a traceback
            if _typer_exit(err):
                raise  # a command's own typer.Exit or typer.Abort
            raise fail(err) from None

    return wrapper


_DOING = (  # innermost archcalc module → what the command was busy with
    ("archcalc.spec", "reading the spec"), ("archcalc.analysis", "analysing the layers"),
    ("archcalc.layers", "analysing the layers"), ("archcalc.dims", "analysing the layers"),
    ("archcalc.report", "writing the report"), ("archcalc.verification", "verifying in PyTorch"),
    ("archcalc.torch_backend", "verifying in PyTorch"), ("archcalc.sweeping", "sweeping"),
    ("archcalc.grading", "grading the sheets"), ("archcalc.claims", "grading the sheets"),
)


def doing(frame) -> str | None:
    """What the interrupted code was doing, from the modules on its stack: the innermost
    archcalc module, and whether sympy was running under it (symbolic closed forms)."""
    symbolic = False
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        symbolic = symbolic or module.startswith("sympy")
        for prefix, text in _DOING:
            if module.startswith(prefix):
                if symbolic and text in ("analysing the layers", "writing the report"):
                    return (f"{'computing' if text[0] == 'a' else 'printing'} closed forms in "
                            "free symbols, which can grow without bound")
                return text
        frame = frame.f_back
    return None


@contextlib.contextmanager
def time_limit():
    """Stop the command after ``max_seconds`` (read when the timer fires, so ``--limit
    max_seconds=N`` given to the command applies). A timer signal raises TimeLimitExceeded,
    and fires again every second in case some code swallows it. Only in the main thread."""
    import signal
    import threading
    import time

    from .. import limits
    from ..errors import tracked

    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "setitimer"):
        yield
        return
    started = time.monotonic()

    def on_timer(signum, frame):
        seconds = limits.current().max_seconds
        if time.monotonic() - started >= seconds:
            loc = at.loc if at.loc is not None and at.loc.line else None
            raise TimeLimitExceeded(seconds, loc, doing(frame))

    global _timing
    with tracked() as at:  # the loader and the analysis say where they are
        previous = signal.signal(signal.SIGALRM, on_timer)
        signal.setitimer(signal.ITIMER_REAL, 1.0, 1.0)
        _timing = True
        try:
            yield
        finally:
            _timing = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


_timing = False  # time_limit()'s timer is running


def emit(text: str) -> None:
    """Write a command's output to stdout, all of it.

    The ``max_seconds`` timer is stopped first: the work is done, and a timer signal that
    interrupts a write to a slow reader makes ``write`` return short (with an unbuffered
    stdout, ``PYTHONUNBUFFERED=1``, Python's text layer then drops the rest). The bytes are
    written in a loop until every one is out. A reader that closes the pipe early (``| head``)
    ends the output quietly and leaves the exit code as it is: a closed pipe is the reader's
    choice, not a result of the command (docs/robustness.md)."""
    _stop_timer()
    stream = sys.stdout
    if stream is None:  # started with stdout closed (`archcalc … >&-`)
        raise SpecError("cannot write the output: standard output is closed")
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (an in-process test runner)
        stream.write(text)
        stream.flush()
        return
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        data = text.encode(encoding, getattr(stream, "errors", None) or "strict")
    except UnicodeEncodeError:  # a character this stdout cannot encode: shown escaped
        data = text.encode(encoding, "backslashreplace")
    try:
        stream.flush()
        write_all(fd, data)
    except BrokenPipeError:
        discard_stdout()
    except OSError as e:  # a full disk, a closed descriptor …: said, not a traceback
        discard_stdout()
        raise SpecError(f"cannot write the output: {e.strerror or e}") from None


def emit_to(text: str, output: str | None) -> None:
    """The output on stdout (``emit``), or written to the file ``output`` (``-o``)."""
    if output is None:
        emit(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise SpecError(f"--output {output}: {e.strerror or e}") from None


def write_all(fd: int, data: bytes) -> None:
    """``data`` written to ``fd`` completely: short writes are continued, an interrupted
    write is retried (PEP 475), and a non-blocking descriptor is waited on."""
    import os
    import select

    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


def discard_stdout() -> None:
    """After the reader closed stdout: the rest of the run writes nowhere (and the flush at
    exit finds nothing to write)."""
    import os

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stdout for the rest of the run


def _stop_timer() -> None:
    """Stop the ``max_seconds`` timer, if it runs (and ignore a signal already on its way)."""
    import signal

    if _timing:  # only in the main thread (time_limit)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # time_limit() restores the handler
