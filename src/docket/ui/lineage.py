"""The runs and artifact versions around one of them, a few lineage hops away.

Data flows left to right: a version a run consumed points at the run, and the run
points at the versions it produced. Runs and versions of entities the viewer
may not read are left out, as if they did not exist.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from docket.store.metadata import INPUT, OUTPUT
from docket.store.protocol import MetadataAPI
from docket.store.records import RunRecord, VersionRecord
from docket.ui.access import Viewer

MAX_HOPS = 6
MAX_NODES = 150

Node = VersionRecord | RunRecord
Edge = tuple[str, str]


def node_key(node: Node) -> str:
    if isinstance(node, VersionRecord):
        return f"version:{node.id}"
    return f"run:{node.path}"


@dataclass(slots=True)
class Neighbourhood:
    """Nodes keyed by :func:`node_key` in the order found, and directed edges."""

    focus: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)
    truncated: bool = False


def neighbourhood(
    metadata: MetadataAPI,
    viewer: Viewer,
    start: Node,
    hops: int,
    max_nodes: int = MAX_NODES,
) -> Neighbourhood:
    """Every node at most ``hops`` edges from ``start`` (breadth first, bounded)."""
    found = Neighbourhood(focus=node_key(start), nodes={node_key(start): start})
    queue: deque[tuple[Node, int]] = deque([(start, 0)])
    while queue:
        node, distance = queue.popleft()
        if distance >= hops:
            continue
        for neighbour, edge in _neighbours(metadata, viewer, node):
            key = node_key(neighbour)
            is_new = key not in found.nodes
            if is_new and len(found.nodes) >= max_nodes:
                found.truncated = True
                continue
            found.edges.add(edge)
            if is_new:
                found.nodes[key] = neighbour
                queue.append((neighbour, distance + 1))
    return found


def _neighbours(
    metadata: MetadataAPI, viewer: Viewer, node: Node
) -> list[tuple[Node, Edge]]:
    """Readable nodes one edge from ``node``, each with that edge."""
    key = node_key(node)
    pairs: list[tuple[Node, Edge]] = []
    if isinstance(node, VersionRecord):
        for run in metadata.version_runs(node.id, OUTPUT):
            pairs.append((run, (node_key(run), key)))
        for run in metadata.version_runs(node.id, INPUT):
            pairs.append((run, (key, node_key(run))))
    else:
        run_id = (node.entity, node.project, node.uid)
        for version in metadata.run_versions(*run_id, INPUT):
            pairs.append((version, (node_key(version), key)))
        for version in metadata.run_versions(*run_id, OUTPUT):
            pairs.append((version, (key, node_key(version))))
    return [(n, edge) for n, edge in pairs if viewer.may_read(n.entity)]
