"""A run: its settings, the versions it consumed and those it produced."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from docket.store.metadata import INPUT, OUTPUT
from docket.ui.lookup import readable_run
from docket.ui.web import render, store, viewer


def run_page(request: Request) -> Response:
    params = request.path_params
    metadata = store(request).metadata
    who = viewer(request)
    run = readable_run(
        metadata, who, params["entity"], params["project"], params["uid"]
    )
    inputs = metadata.run_versions(run.entity, run.project, run.uid, INPUT)
    outputs = metadata.run_versions(run.entity, run.project, run.uid, OUTPUT)
    return render(
        request,
        "run.html",
        run=run,
        config=json.dumps(dict(run.config), indent=2, sort_keys=True, default=str),
        inputs=[v for v in inputs if who.may_read(v.entity)],
        outputs=[v for v in outputs if who.may_read(v.entity)],
    )


def routes() -> list[Route]:
    return [Route("/runs/{entity}/{project}/{uid}", run_page, name="run")]
