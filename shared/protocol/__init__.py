"""The protocol layer: HTTP decisions with no I/O, no threads, no event loop and no globals.

Header fields and facts in (strings, sizes, validators, the clock as a value), decisions out
(statuses, header values, byte spans), in the manner of h11 and ``werkzeug.sansio``. Imports only
the standard library (and ``brotli`` for content coding), never another layer of ``shared``.
"""
