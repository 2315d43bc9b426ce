"""The command line's words for the library's: an error message written for the Python API
(``pass total=``, ``sched(epoch=e)``) as a person at the terminal types it (``give --total``,
``--epochs N``). Used by ``lrdsl`` and by the playground's ``cli`` error line."""

from __future__ import annotations

import re


def option(name: str) -> str:
    """The command-line option of a keyword: ``steps_per_epoch`` -> ``--steps-per-epoch``."""
    return "--" + name.replace("_", "-")


OPTION_WORDS = ("total", "steps_per_epoch", "tokens_per_step", "samples_per_step")
CALL_WORDS = {  # how each command reads a schedule by a counter, for "call it by epoch: sched(epoch=e)"
    "plot": {"iteration": "--iterations N", "epoch": "--epochs N", "tokens": "--tokens N", "samples": "--samples N"},
    "eval": {"iteration": "--at alone", "epoch": "--epoch", "tokens": "--tokens", "samples": "--samples"},
}


def cli_words(message: str, command: str) -> str:
    """``message`` (a library error) with the Python API's words replaced by the command line's:
    ``pass total=`` -> ``give --total``, ``steps_per_epoch=`` -> ``--steps-per-epoch``, and
    ``call it by epoch: sched(epoch=e)`` -> the option of ``command`` that reads by epoch."""
    words = "|".join(OPTION_WORDS)
    message = re.sub(rf"\bpass (a larger |a smaller |)({words})=", lambda m: f"give {m[1]}{option(m[2])}", message)
    message = re.sub(rf"(?<![\w.])({words})=(?=[\s,;)]|$)", lambda m: option(m[1]), message)
    message = re.sub(rf"(?<![\w.])({words})=", lambda m: f"{option(m[1])} ", message)
    message = message.replace(" when compiling", "")

    def reading(match) -> str:
        option = CALL_WORDS.get(command, {}).get(match[1])
        return f"or read it by {match[1]}: {option}" if option else f"or give it in {match[1]}s"

    return re.sub(r"or call it by (\w+): sched\([^)]*\)", reading, message)


__all__ = ["CALL_WORDS", "OPTION_WORDS", "cli_words", "option"]
