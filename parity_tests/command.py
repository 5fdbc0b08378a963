"""``twinport parity``: the parity suite as a plug-in command of ``twinport`` (``shared.cli``).

Registered in ``pyproject.toml`` under the ``twinport.commands`` entry points. Only ``register``
is imported to list or parse the command; the harness (both apps, every case) only to run it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from shared.cli import Commands
from shared.settings import SERVERS, ConfigError

if TYPE_CHECKING:
    from .servers import Serving

__all__ = ["register"]


def register(commands: Commands) -> None:
    parity = commands.add_parser("parity", help="send the parity cases to both runtimes and show every difference")
    # harness.MODES and "both", written out: importing the harness to read them would load both apps.
    parity.add_argument("--mode", choices=("in-process", "wire", "both"), default="both")
    for runtime in SERVERS:
        offered = ", ".join(f"{server} ({' or '.join(classes)})" for server, classes in SERVERS[runtime].items())
        parity.add_argument(
            f"--{runtime}-server",
            metavar="SERVER[:WORKER_CLASS]",
            help=f"over the wire, serve {runtime} on this server: {offered}; default: the first",
        )
    parity.add_argument(
        "--every-pairing",
        action="store_true",
        help="over the wire, every pairing the test suite proves: each server against the other runtime's default",
    )
    parity.set_defaults(handler=_parity)


def _parity(arguments: argparse.Namespace) -> int:
    chosen = {runtime: _serving(runtime, getattr(arguments, f"{runtime}_server")) for runtime in SERVERS}
    if arguments.every_pairing and any(chosen.values()):
        raise ConfigError("--every-pairing runs every server; it takes no --flask-server or --quart-server")
    from .harness import main
    from .servers import DEFAULT_SERVINGS, PAIRINGS

    if arguments.every_pairing:
        return main(mode=arguments.mode, pairings=PAIRINGS)
    pairing = (chosen["flask"] or DEFAULT_SERVINGS["flask"], chosen["quart"] or DEFAULT_SERVINGS["quart"])
    return main(mode=arguments.mode, pairings=[pairing])


def _serving(runtime: str, text: str | None) -> Serving | None:
    """``granian`` or ``gunicorn:gevent`` as a serving of ``runtime``, checked as ``serve`` checks it."""
    if text is None:
        return None
    from .servers import Serving

    server, _, worker_class = text.partition(":")
    offered = SERVERS[runtime]
    if server not in offered:
        raise ConfigError(f"--{runtime}-server {text!r}: {runtime} is offered on {', '.join(offered)}")
    worker_class = worker_class or offered[server][0]
    if worker_class not in offered[server]:
        raise ConfigError(f"--{runtime}-server {text!r}: {server} serves {runtime} with {' or '.join(offered[server])}")
    return Serving(runtime, server, worker_class)
