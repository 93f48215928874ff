"""The SharePoint part of the saved tenant state, to and from JSON.

The HTTP server keeps a tenant across restarts, so the file format has to stay readable by
later runs; it is kept apart from the live store so that changing how SharePoint behaves
does not touch what is written to disk, and the reverse.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from graph.sandbox.sharepoint.model import Column, ItemVersion, ListItem, SPList

if TYPE_CHECKING:
    from graph.sandbox.sharepoint.store import SharePointStore


def dump(store: SharePointStore) -> dict[str, Any]:
    def column_json(c: Column) -> dict[str, Any]:
        return {
            "id": c.id,
            "name": c.name,
            "display_name": c.display_name,
            "type": c.type,
            "indexed": c.indexed,
            "hidden": c.hidden,
            "required": c.required,
            "read_only": c.read_only,
            "allow_multiple_lines": c.allow_multiple_lines,
            "text_type": c.text_type,
            "choices": list(c.choices),
            "default_value": c.default_value,
        }

    def item_json(i: ListItem) -> dict[str, Any]:
        return {
            "id": i.id,
            "fields": i.fields,
            "created": i.created.isoformat(),
            "modified": i.modified.isoformat(),
            "created_by": i.created_by,
            "modified_by": i.modified_by,
            "etag_guid": i.etag_guid,
            "version": i.version,
            "history": [{"number": v.number, "modified": v.modified.isoformat(),
                         "modified_by": v.modified_by, "changed": v.changed}
                        for v in i.history],
        }

    def list_json(sp: SPList) -> dict[str, Any]:
        return {
            "id": sp.id,
            "name": sp.name,
            "display_name": sp.display_name,
            "created": sp.created.isoformat(),
            "modified": sp.modified.isoformat(),
            "created_by": sp.created_by,
            "template": sp.template,
            "columns": [column_json(c) for c in sp.columns.values()],
            "items": [item_json(i) for i in sp.items.values()],
            "next_item_id": sp.next_item_id,
            "etag_guid": sp.etag_guid,
            "version": sp.version,
        }

    return {
        "sites": [
            {
                "hostname": s.hostname,
                "path": s.path,
                "display_name": s.display_name,
                "site_collection_id": s.site_collection_id,
                "web_id": s.web_id,
                "created": s.created.isoformat(),
                "lists": [list_json(sp) for sp in s.lists.values()],
            }
            for s in store.sites.values()
        ]
    }


def load(store: SharePointStore, data: dict[str, Any]) -> SharePointStore:
    """Fill an empty store with what `dump` wrote."""
    for raw_site in data.get("sites", []):
        site = store.add_site(
            raw_site["hostname"],
            raw_site["path"],
            raw_site["display_name"],
            created=datetime.fromisoformat(raw_site["created"]),
            site_collection_id=raw_site["site_collection_id"],
            web_id=raw_site["web_id"],
        )
        for raw in raw_site.get("lists", []):
            sp_list = SPList(
                id=raw["id"],
                name=raw["name"],
                display_name=raw["display_name"],
                created=datetime.fromisoformat(raw["created"]),
                modified=datetime.fromisoformat(raw["modified"]),
                created_by=raw["created_by"],
                template=raw.get("template", "genericList"),
                next_item_id=raw["next_item_id"],
                etag_guid=raw["etag_guid"],
                version=raw["version"],
            )
            for rc in raw.get("columns", []):
                sp_list.columns[rc["name"]] = Column(**rc)
            for ri in raw.get("items", []):
                sp_list.items[ri["id"]] = ListItem(
                    id=ri["id"],
                    fields=ri["fields"],
                    created=datetime.fromisoformat(ri["created"]),
                    modified=datetime.fromisoformat(ri["modified"]),
                    created_by=ri["created_by"],
                    modified_by=ri["modified_by"],
                    etag_guid=ri["etag_guid"],
                    version=ri["version"],
                    history=[ItemVersion(v["number"], datetime.fromisoformat(v["modified"]),
                                         v["modified_by"], v["changed"])
                             for v in ri.get("history", [])],
                )
            site.lists[sp_list.id] = sp_list
    return store
