"""OData v4 query options as the sandbox's resources need them: `$filter`, `$select`, `$top`,
`$orderby`, `$expand`.

Real Graph rejects a malformed query with a 400 before touching data; the worker must never get
away with a query that only "works" because the stand-in is lenient. So this package parses the
whole `$filter` grammar subset that Outlook and SharePoint accept (and no more), evaluates it
against JSON items, and raises `ODataError` for anything it does not understand. Callers turn
`ODataError` into their service's 400 with `ODataError.to_graph_error`.

Grammar (precedence low to high): ``or`` < ``and`` < ``not`` < comparison
(``eq ne gt ge lt le``, ``in``) < primary (literal, property path, function call, lambda,
parenthesised expression). Functions: ``startswith``, ``endswith``, ``contains``. Lambdas:
``path/any(v: expr)`` and ``path/all(v: expr)`` (keyword case-insensitive, as Outlook accepts
``Any``). Literals: ``'string'`` with ``''`` escaping, integers and decimals, ``true``,
``false``, ``null``, unquoted ISO 8601 date-times (``2026-12-01T09:00:00Z``).

OData URL conventions: https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html
Graph query parameters: https://learn.microsoft.com/en-us/graph/query-parameters
Outlook's answer to a malformed filter is 400 ``BadRequest`` "Invalid filter clause"
(seen verbatim in https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/3982).

The package is cut the same way: `syntax` parses a `$filter`, `filters` evaluates it,
`options` parses the other query options, and `errors` holds the `ODataError` they all raise.
Callers use the names re-exported here.
"""

from graph.sandbox.odata.errors import ODataError
from graph.sandbox.odata.filters import (
    Filter,
    Resolver,
    default_resolver,
    iter_nodes,
    parse_filter,
    quote,
)
from graph.sandbox.odata.options import (
    MAX_TOP,
    Expand,
    OrderBy,
    apply_select,
    parse_expand,
    parse_orderby,
    parse_select,
    parse_skip,
    parse_top,
    sort_items,
)
from graph.sandbox.odata.syntax import (
    BoolOp,
    Call,
    Compare,
    In,
    Lambda,
    Literal,
    Node,
    Not,
    Path,
    Token,
    tokenize,
)

__all__ = [
    "MAX_TOP",
    "BoolOp",
    "Call",
    "Compare",
    "Expand",
    "Filter",
    "In",
    "Lambda",
    "Literal",
    "Node",
    "Not",
    "ODataError",
    "OrderBy",
    "Path",
    "Resolver",
    "Token",
    "apply_select",
    "default_resolver",
    "iter_nodes",
    "parse_expand",
    "parse_filter",
    "parse_orderby",
    "parse_select",
    "parse_skip",
    "parse_top",
    "quote",
    "sort_items",
    "tokenize",
]
