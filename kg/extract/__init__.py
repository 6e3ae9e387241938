"""Entity extraction: product text -> typed, normalised entities linked into the graph.

- :mod:`kg.extract.schema`: the fixed entity-type schema; :mod:`kg.extract.base`: the extractor interface.
- Extractors: :mod:`~kg.extract.lexicon` (patterns + lexicons), :mod:`~kg.extract.tokens` (any transformers
  token-classification model), :mod:`~kg.extract.hybrid` (the offline default), :mod:`~kg.extract.llm`
  (OpenAI-compatible endpoints).
- :mod:`~kg.extract.normalise` (canonical ids, near-duplicates), :mod:`~kg.extract.link` (graph writes),
  :mod:`~kg.extract.pipeline` (:func:`run_extract`), :mod:`~kg.extract.train` (fine-tuning on weak labels).
"""
