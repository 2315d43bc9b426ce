"""``lrdsl serve``: a local web playground where a schedule is typed and its curve seen.

- :mod:`lrdsl.serve.api`: the JSON API as plain functions (``/api/eval``, ``/api/check``, ``/api/nodes``);
- :mod:`lrdsl.serve.workers`: the worker processes that evaluate within a time limit;
- :mod:`lrdsl.serve.server`: the HTTP server (standard library) and ``lrdsl serve``;
- ``static/``: the page (``index.html``, ``app.js``, ``style.css``), drawn with no library.
"""
