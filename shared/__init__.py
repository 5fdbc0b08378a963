"""twinport's framework-free HTTP core.

Sans-I/O, in the manner of h11 and ``werkzeug.sansio``: functions take header strings and facts
(sizes, validators, the clock) and return decisions (status, headers, byte spans). Neither
Flask nor Quart is imported here. The two process-edge modules, ``shared.config`` (reads the
config file and environment) and ``shared.cli`` (the ``twinport`` command), are not re-exported.
"""

from __future__ import annotations

from . import responses
from ._cache import CachePolicy, immutable_static, merge_vary, no_store, private_revalidated, revalidated
from ._conditional import (
    InvalidIfRange,
    NotModified,
    PreconditionFailed,
    Proceed,
    RequestConditions,
    Validators,
    evaluate_preconditions,
    header_field,
)
from ._dates import format_http_date, parse_http_date, to_http_seconds
from ._disposition import content_disposition
from ._etag import ANY, AnyTag, EntityTag, TagCondition, parse_tag_condition
from ._event_stream import (
    HEARTBEAT,
    OPENING,
    InvalidPublication,
    Publication,
    event_stream,
    event_stream_async,
    parse_last_event_id,
    parse_publication,
)
from ._events import AsyncSubscription, Event, EventBackend, EventHub, JSONValue, Quiet, Subscription
from ._link import Link, format_link_header
from ._range import (
    DEFAULT_MAX_RANGES,
    ByteRanges,
    ByteSpan,
    RangeDeclined,
    RangeIgnored,
    RangeMalformed,
    RangeNotSatisfiable,
    RangeOutcome,
    plan_range,
)
from ._representation import (
    Representation,
    ResponsePlan,
    allow_header,
    json_bytes,
    plan_bytes,
    plan_json,
    plan_problem,
    plan_representation,
)
from ._sse import encode_comment, encode_event
from ._streams import StreamHead, csv_batches, export_csv_batches, export_rows, plan_stream, stream_gen_steps
from .settings import ConfigError, Settings

__all__ = [
    "ANY",
    "DEFAULT_MAX_RANGES",
    "HEARTBEAT",
    "OPENING",
    "AnyTag",
    "AsyncSubscription",
    "ByteRanges",
    "ByteSpan",
    "CachePolicy",
    "ConfigError",
    "EntityTag",
    "Event",
    "EventBackend",
    "EventHub",
    "InvalidIfRange",
    "InvalidPublication",
    "JSONValue",
    "Link",
    "NotModified",
    "PreconditionFailed",
    "Proceed",
    "Publication",
    "Quiet",
    "RangeDeclined",
    "RangeIgnored",
    "RangeMalformed",
    "RangeNotSatisfiable",
    "RangeOutcome",
    "Representation",
    "RequestConditions",
    "ResponsePlan",
    "Settings",
    "StreamHead",
    "Subscription",
    "TagCondition",
    "Validators",
    "allow_header",
    "content_disposition",
    "csv_batches",
    "encode_comment",
    "encode_event",
    "evaluate_preconditions",
    "event_stream",
    "event_stream_async",
    "export_csv_batches",
    "export_rows",
    "format_http_date",
    "format_link_header",
    "header_field",
    "immutable_static",
    "json_bytes",
    "merge_vary",
    "no_store",
    "parse_http_date",
    "parse_last_event_id",
    "parse_publication",
    "parse_tag_condition",
    "plan_bytes",
    "plan_json",
    "plan_problem",
    "plan_range",
    "plan_representation",
    "plan_stream",
    "private_revalidated",
    "responses",
    "revalidated",
    "stream_gen_steps",
    "to_http_seconds",
]
