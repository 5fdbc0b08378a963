"""The service layer: twinport's framework-free answers, one module per resource.

``files``, ``items``, ``paging``, ``urls``, ``events``, ``streams``, ``guard``, ``site``,
``cookies`` and ``errors`` decide what each endpoint answers, from facts the views (and the edge)
hand over. Imports only ``shared.protocol``; what it needs from the edge is a ``Protocol`` it
declares (``events.EventBackend``, ``guard.Limiter``), which the edge implements.
"""
