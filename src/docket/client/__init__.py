"""The SDK's remote mode: the store protocol spoken over HTTP to ``docket server``.

- ``remote``: ``RemoteStore`` and its ``MetadataAPI``, one request per method;
- ``blobs``: streamed uploads and downloads of stored files and manifests;
- ``transport``: the process's one HTTP client, API key, retries and backoff;
- ``errors``: the server's error answers back into ``docket.errors``;
- ``codec``: records to and from JSON;
- ``credentials``: what ``docket login`` saves.

Modules are imported where they are used, so that reading the settings (which
looks at the saved credentials) does not import the HTTP client.
"""
