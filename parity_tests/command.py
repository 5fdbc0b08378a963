"""``twinport parity``: the parity suite as a plug-in command of ``twinport`` (``shared.cli``).

Registered in ``pyproject.toml`` under the ``twinport.commands`` entry points. Only ``register``
is imported to list or parse the command; the harness (both apps, every case) only to run it.
"""

from __future__ import annotations

import argparse

from shared.cli import Commands

__all__ = ["register"]


def register(commands: Commands) -> None:
    parity = commands.add_parser("parity", help="send the parity cases to both runtimes and show every difference")
    # harness.MODES and "both", written out: importing the harness to read them would load both apps.
    parity.add_argument("--mode", choices=("in-process", "wire", "both"), default="both")
    parity.set_defaults(handler=_parity)


def _parity(arguments: argparse.Namespace) -> int:
    from .harness import main

    return main(mode=arguments.mode)
