"""The `aio-tim` command line (`main`), one module per command family.

    main.py       parses the line, loads the named command's family, runs it inside `reported()`
    commands.py   the table of commands: name, summary, family module (`--help` needs nothing more)
    messages.py   send, history, revoke          batch.py    batch-send
    download.py   download                       server.py   serve, info
    demo.py       demo                           admin.py    group, account
    listen.py     listen                         faults.py   faults
    trigger.py    trigger
    shared, imported by the families and never importing them:
    options.py (an option and its AIO_TIM_* variable, declared together), target.py (where a
    command sends), records.py (the `aio-tim serve` record), console.py, errors.py (one line and
    an exit code per failure), progress.py (bars), render.py (a message in one line),
    checkpoint.py (batch-send's resumable record), callback_kit.py (callback bodies, signing and
answer checks for trigger and listen --forward-to)

Why argparse, not click or typer (measured on this 2-vCPU VM, 20 runs each, old and new
alternating, CPU time user+sys because the wall clock was shared with other jobs):

- Start-up. `aio-tim --help` took 640 ms CPU (median) as six modules importing each other, 510 ms
  as this package, against 495 ms for a bare `import aio_tim` (its `__init__` imports Client and
  aiohttp): `--help` now loads the command table alone, and a command only its own family. A
  framework cannot lower that floor; it only adds to it: `import click` costs 57 ms CPU against
  24 ms for argparse, typer loads click and more.
- Variables. click's `envvar=` is what `options.option(..., env=...)` does here in a few lines;
  ours also names the variable in `--help`, and blames the variable, not the flag, for a value the
  option's type refuses.
- Typo suggestions. click 8 has them; argparse 3.11 has not (3.14's `suggest_on_error`):
  `main._Parser` adds them with difflib, in the CLI's one-line error format.
- Completion. click generates bash/zsh/fish completion; argparse needs argcomplete. Not worth a
  new runtime dependency and a rewrite of 50 options and their tested one-line errors and exit
  codes; argcomplete can be added as an optional extra without touching the commands.
"""

from .main import main

__all__ = ["main"]
