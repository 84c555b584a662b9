"""One module per page; each offers ``routes()`` for the application to mount."""
