"""The parity suite: the same requests to both runtimes, in-process and over the wire.

``cases`` holds the requests (data), ``clients`` sends one request to one runtime and returns
what came back exactly, ``servers`` starts the real production servers, ``compare`` says what
differs and ``harness`` runs it all for ``pytest parity_tests`` and ``twinport parity``.
"""
