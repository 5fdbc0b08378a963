"""``twinport parity``: the parity suite as a plug-in command of ``twinport`` (``shared.cli``).

Registered in ``pyproject.toml`` under the ``twinport.commands`` entry points. Only ``register``
is imported to list or parse the command; the harness (both apps, every case) only to run it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from shared.cli import Commands
from shared.settings import SERVERS, ConfigError

from .options import add_parity_arguments, add_proxy_arguments, has_targets, refuse_options_without_targets

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .servers import Serving

__all__ = ["register"]


def register(commands: Commands) -> None:
    parity = commands.add_parser(
        "parity",
        help="send the same requests to two sides (twinport's own apps, or yours and its port), show each difference",
        description=(
            "Without targets: twinport's own Flask and Quart apps, every parity case. With --flask and --quart (app"
            " factories) or --left and --right (base URLs): your pair, with cases from --cases, --har or --generate"
            " (the default where an app is given). Exit status 1 on any difference. `twinport parity proxy --help`:"
            " shadow mode, for live traffic."
        ),
    )
    # harness.MODES and "both", written out: importing the harness to read them would load both apps.
    parity.add_argument(
        "--mode",
        choices=("in-process", "wire", "both"),
        default="both",
        help="app targets in-process, behind gunicorn and hypercorn, or both (default); URLs are URLs",
    )
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
    add_parity_arguments(parity)
    parity.set_defaults(handler=_parity)
    subcommands = parity.add_subparsers(title="subcommands", metavar="COMMAND")
    shadow = subcommands.add_parser(
        "proxy",
        help="shadow mode: answer clients from --left, compare each answer with --right's in the background",
    )
    add_proxy_arguments(shadow)
    shadow.set_defaults(handler=_proxy)


def _parity(arguments: argparse.Namespace) -> int:
    if has_targets(arguments):
        if arguments.every_pairing or arguments.flask_server or arguments.quart_server:
            raise ConfigError("--every-pairing, --flask-server and --quart-server are for twinport's own apps")
        from .runner import run

        return run(arguments)
    refuse_options_without_targets(arguments)
    chosen = {runtime: _serving(runtime, getattr(arguments, f"{runtime}_server")) for runtime in SERVERS}
    if arguments.every_pairing and any(chosen.values()):
        raise ConfigError("--every-pairing runs every server; it takes no --flask-server or --quart-server")
    from .harness import main
    from .servers import DEFAULT_SERVINGS, PAIRINGS

    pairings: Sequence[tuple[Serving, Serving]] = PAIRINGS
    if not arguments.every_pairing:
        pairings = [(chosen["flask"] or DEFAULT_SERVINGS["flask"], chosen["quart"] or DEFAULT_SERVINGS["quart"])]
    return main(mode=arguments.mode, pairings=pairings, format=arguments.format, output=arguments.output)


def _proxy(arguments: argparse.Namespace) -> int:
    from .proxy import run

    return run(arguments)


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
