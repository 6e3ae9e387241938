"""The composition root: the ``cartograph`` command line, which wires the layers kg -> gnn -> api together.

Nothing imports this package. Domain code lives in the layers below it; each module under
:mod:`cartograph.commands` turns one group of commands into calls on them and prints the result.
"""
