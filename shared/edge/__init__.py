"""The edge: I/O and concurrency. Files, the database, the in-process event hub, the locks a
worker's threads share, and the life of server processes.

Each sync/async twin sits side by side in one module: ``files.iter_body`` / ``iter_body_async``,
``store.SyncStore`` / ``AsyncStore``, ``events.HubSubscription`` / ``AsyncHubSubscription``.
Imports ``shared.protocol`` and ``shared.service`` (whose protocols it implements), never the
composition root.
"""
