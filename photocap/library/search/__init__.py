"""Search: the photo's search document, the query language, and the rankings over them.

Modules (import them by name; this package imports nothing, so that photos.py can use the parser's
names without a cycle through the rankings):

- ``document``  the search document of a photo: its tokens, ``taken`` and ``tagkeys`` keys, its
                rowid (an estimate of its bm25 rank) and ``search_document``, the one declaration
                of it (``photos.reindex`` writes it, the search benchmark builds with it)
- ``query``     the parser: query text -> ``ParsedQuery`` (words, phrases, OR, exclusions, filters)
- ``compile``   a parsed query's filters -> FTS5 phrases and SQL checks (``Filters``)
- ``keyword``   keyword ranking by bm25: ``Hit``, ``search``, ``ranked_ids``, ``count``, ``explain``
- ``vectors``   the vector store in the library database and nearest-neighbour search over it
- ``fusion``    words and meaning in one ranking; similar photos; near-duplicates
"""
