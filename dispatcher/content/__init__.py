"""The ente's side of remote content: what IO fetches when a citizen opens a message.

* :mod:`~dispatcher.content.model`: the typed content of one message (details, precondition,
  attachments), made by the campaign room and registered by ``run`` before the submit.
* :mod:`~dispatcher.content.store`: the per-service SQLite store, attachments by SHA-256.
* :mod:`~dispatcher.content.server`: the Starlette app ``dispatcher content serve`` runs.
* :mod:`~dispatcher.content.records`, :mod:`~dispatcher.content.documents`: the store's
  values and the JSON documents IO receives (built once, at registration).
* :mod:`~dispatcher.content.auth`: the key IO sends, read from the environment or a file and
  compared in constant time.
* :mod:`~dispatcher.content.lollipop`: verification of IO's signed requests (RFC 9421).
* :mod:`~dispatcher.content.serving`: uvicorn around the app, for the command and for tests.
"""
