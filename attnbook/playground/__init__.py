"""The live playground: the embedded model exported for the browser, and the page's scripts.

* :mod:`attnbook.playground.export` — the model as an ONNX graph that returns attention;
* :mod:`attnbook.playground.assets` — everything the page loads, built at docs build time;
* ``docs/tools/playground_sphinx.py`` (the book's, not the package's) — the Sphinx extension that writes them into the site;
* ``tokenizer.js`` (WordPiece, equal to the Python tokenizer), ``playground.js``
  (the page; ``window.attnbook.attend(text)``), ``playground.css``.
"""
