"""The lineage graph around a version or a run, ``?hops=N`` edges deep."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from docket.store.records import RunRecord, VersionRecord
from docket.ui.graph import GraphNode, render_svg
from docket.ui.lineage import MAX_HOPS, Neighbourhood, neighbourhood, node_key
from docket.ui.lookup import readable_run
from docket.ui.pages.files import requested_version
from docket.ui.web import Links, render, store, viewer

DEFAULT_HOPS = 2


def version_lineage(request: Request) -> Response:
    return _lineage_page(request, requested_version(request))


def run_lineage(request: Request) -> Response:
    params = request.path_params
    run = readable_run(
        store(request).metadata,
        viewer(request),
        params["entity"],
        params["project"],
        params["uid"],
    )
    return _lineage_page(request, run)


def _lineage_page(request: Request, start: VersionRecord | RunRecord) -> Response:
    hops = _hops(request)
    found = neighbourhood(store(request).metadata, viewer(request), start, hops)
    links = Links(request.scope.get("root_path", ""))
    nodes = [_graph_node(links, key, node, found) for key, node in found.nodes.items()]
    return render(
        request,
        "lineage.html",
        start=start,
        is_run=isinstance(start, RunRecord),
        hops=hops,
        max_hops=MAX_HOPS,
        graph=render_svg(nodes, found.edges, title=f"Lineage of {_label(start)}"),
        found=found,
        nodes=nodes,
        links=links,
    )


def _hops(request: Request) -> int:
    raw = request.query_params.get("hops", "")
    return min(MAX_HOPS, max(1, int(raw))) if raw.isdigit() else DEFAULT_HOPS


def _graph_node(
    links: Links, key: str, node: VersionRecord | RunRecord, found: Neighbourhood
) -> GraphNode:
    focus = key == found.focus
    if isinstance(node, VersionRecord):
        return GraphNode(
            key=node_key(node),
            kind="version",
            label=f"{node.name}:{node.version}",
            detail=f"{node.type} · {', '.join(node.aliases) or 'no aliases'}",
            href=links.version(node),
            focus=focus,
        )
    return GraphNode(
        key=node_key(node),
        kind="run",
        label=node.name or node.uid,
        detail=f"run · {node.job_type or 'no job type'} · {node.state}",
        href=links.run(node.entity, node.project, node.uid),
        focus=focus,
    )


def _label(node: VersionRecord | RunRecord) -> str:
    if isinstance(node, VersionRecord):
        return node.qualified_name
    return f"run {node.path}"


def routes() -> list[Route]:
    return [
        Route(
            "/artifacts/{entity}/{project}/{name}/{version}/lineage",
            version_lineage,
            name="version_lineage",
        ),
        Route(
            "/runs/{entity}/{project}/{uid}/lineage", run_lineage, name="run_lineage"
        ),
    ]
