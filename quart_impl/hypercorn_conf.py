"""hypercorn settings for the Quart twin, loaded by ``twinport serve`` as ``--config file:<path>``.

hypercorn keeps every module-level name that is not a module or a dunder (and pickles the config
to its workers), so this file holds values only.

``keep_alive_timeout`` is the ``client_timeout`` setting: hypercorn's idle timer runs from a
connection's start (or its previous response's end) until a request's head has arrived, then
stops, so a head that is not complete within it is closed without an answer, as gunicorn's worker
closes it (``flask_impl/gunicorn_worker.py``). hypercorn's ``read_timeout`` is not used: it bounds
every read, also while a response streams, and would cut an event stream whose client is quiet.
"""

import shared.config
import shared.edge.access_log

keep_alive_timeout = shared.config.load_settings().settings.client_timeout

# The access log line gunicorn writes (shared.edge.access_log), with no "[date] [pid] [INFO]" prefix:
# hypercorn applies logconfig_dict after creating its loggers, so this replaces the access handler.
access_log_format = shared.edge.access_log.ACCESS_LOG_FORMAT
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"access": {"format": "%(message)s"}},
    "handlers": {"access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stderr"}},
    "loggers": {"hypercorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False}},
}
