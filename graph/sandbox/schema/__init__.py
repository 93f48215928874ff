"""Check every JSON request body against a snapshot of Microsoft Graph's schema.

The sandbox is only useful if the worker cannot send something real Graph would refuse and still
pass its tests. So each route that takes a body declares a ``body_type`` and the pipeline calls
``check_body(route.body_type, request.json())`` before the handler runs. The snapshot
(``graph/sandbox/data/graph_schema.json``) is generated from the models Microsoft ships in the
``msgraph-sdk`` package (see `graph.sandbox.schema_gen`); this package loads it once and compiles
each type into small checking closures, so a check costs microseconds.

Body type names accepted by `check_body` (anything else is a ``ValueError``: a programming error
in a route declaration, never a silent pass):

* ``microsoft.graph.event``, ``microsoft.graph.listItem``, ``microsoft.graph.fieldValueSet``,
  ``microsoft.graph.list``, ``microsoft.graph.columnDefinition``,
  ``microsoft.graph.teamsAppInstallation``, ``microsoft.graph.mailboxSettings`` and any other
  ``microsoft.graph.<type>`` present in the snapshot;
* ``action:getSchedule``, ``action:cancel``, ``action:accept``, ``action:decline``,
  ``action:tentativelyAccept``, ``action:sendActivityNotification``, ``action:sendMail``;
* ``batch`` (the JSON batching envelope).

What is refused, and how (all ``400`` unless noted):

* a property the type does not declare (open types such as fieldValueSet excepted):
  ``RequestBodyRead`` / "The property 'subjct' does not exist on type 'microsoft.graph.event'.
  Make sure to only use property names that are defined by the type or mark the type as open
  type." (Graph's wording, e.g. github.com/microsoftgraph/msgraph-sdk-python/issues/440,
  github.com/microsoftgraph/msgraph-sdk-dotnet/issues/450);
* a JSON value of the wrong shape or primitive type: ``RequestBodyRead`` with the OData reader's
  messages ("An unexpected 'StartObject' node was found for property named 'subject' when
  reading from the JSON reader. A 'PrimitiveValue' node was expected.", "Cannot convert the
  literal 'yes' to the expected type 'Edm.Boolean'.", "An incompatible primitive type
  'Edm.Int32[Nullable=False]' was found for an item that was expected to be of type
  'Edm.String[Nullable=True]'.");
* an ``@odata.type`` that is not the expected type or one derived from it;
* in Outlook bodies (events, calendar actions, mailbox settings), an enum member that does not
  exist, or a date / time / ``dateTimeTimeZone.dateTime`` Outlook cannot parse:
  ``UnableToDeserializePostBody`` / "were unable to deserialize " (what Outlook answered for
  malformed recurrence dates: github.com/microsoftgraph/msgraph-sdk-javascript/issues/404,
  github.com/microsoftgraph/msgraph-sdk-php/issues/355). Elsewhere the OData reader's
  ``RequestBodyRead`` "Cannot convert the literal ..." is used (docs are silent; stricter);
* a ``$batch`` envelope that is not ``{"requests": [{id, method, url, ...}]}``:
  ``BadRequest`` / "Invalid batch payload format." (the message Graph returns,
  github.com/microsoftgraph/msgraph-sdk-javascript/issues/1451);
* a value for a navigation property whose entity type the snapshot does not expand
  (``calendar``, ``attachments``...): ``501 NotImplemented``, so a new kind of write is a loud,
  deliberate extension of the sandbox rather than an unchecked pass.

Deliberate choices where Graph's documentation is silent: ``null`` is accepted for any single
property (the SDK marks every property optional) but not as a collection item; enum names match
case-insensitively (Outlook accepts ``"contentType": "HTML"``, see the issue #404 payload above);
entity/complex property names match case-sensitively; action parameter names match
case-insensitively, because Graph's metadata spells them ``Comment``/``SendResponse`` while the
documented requests use ``comment``/``sendResponse`` (learn.microsoft.com/graph/api/event-accept).
Properties the metadata calls read-only are *not* refused: Graph ignores them on create, and
some (extended properties) are documented as writable on create.

The package: `reader` (primitive formats and Graph's wording), `compiler` (types into
checkers) and `bodies` (the declared body types and `check_body`). Callers use the names
re-exported here.
"""

from graph.sandbox.schema.bodies import body_types, check_body, snapshot

__all__ = ["body_types", "check_body", "snapshot"]
