"""twinport's framework-free core, in four layers; each imports only the layers above it in this list.

``shared.protocol``
    HTTP decisions, sans-I/O (the rule of ``flask/sansio/README``): no I/O, no threads, no event
    loop, no globals. Header fields and facts in, decisions out: dates, entity tags,
    preconditions, ranges, cache policies, Content-Disposition, Link, SSE framing, content
    coding, the request gate, and the ``ResponsePlan`` the apps write.
``shared.service``
    The service's answers, one module per resource (files, items, paging, urls, events, streams,
    guard, site, cookies, errors), from facts the views hand over. Imports only the protocol layer.
``shared.edge``
    I/O and concurrency: opening and reading files, the database stores, the in-process event
    hub, the locks a worker's threads share, the life of server processes. Each sync/async twin
    side by side in one module. Imports the protocol and service layers.
``shared.settings``, ``shared.config``, ``shared.compose``, ``shared.cli``
    The composition root: the settings (schema, with no I/O), reading them (files, environment),
    the per-process objects built from them, and the ``twinport`` command.

"Above" is "below" in the dependency sense: protocol depends on nothing of ``shared``; the root
may import everything. ``tests/test_layers.py`` checks the rule, the absence of I/O modules in the
protocol layer and of import cycles. Neither Flask nor Quart is imported anywhere in ``shared``.

Nothing is re-exported here: a name is imported from the module that owns it
(``from shared.service import files``), so importing the protocol layer never loads the edge.
"""

__all__: list[str] = []
