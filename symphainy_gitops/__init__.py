"""The config plane of the symphainy platform, kept in git.

Vocabulary used throughout the package:

- *layer*: one level of configuration: ``base``, a ``plan``, or a ``tenant``.
- *overlay*: a YAML document of a plan or tenant layer, merged over the layers
  beneath it.
- *config type*: one of :data:`symphainy_gitops.layout.CONFIG_TYPES`; each has a
  schema and one file per layer.
- *provenance*: the file, line, column and layer that set a merged value.
- *finding*: one problem found by validation, with a stable code.
- *ref*: a git revision (commit, tag or branch) or the working tree.
- *snapshot*: the merged, validated configuration of every tenant at one ref.
"""

__version__ = "0.1.0"
