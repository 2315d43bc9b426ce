"""Hook specifications: the plugin author's guide.

A plugin is a module (or object) with functions marked ``@lrdsl.hookimpl``, made known to
lrdsl through the package entry-point group ``lrdsl``::

    # pyproject.toml of the plugin distribution
    [project.entry-points.lrdsl]
    my_nodes = "my_package.nodes"

Built-in nodes are registered through these same hooks.
"""

import pluggy

hookspec = pluggy.HookspecMarker("lrdsl")


@hookspec
def lrdsl_nodes():
    """Return the nodes this plugin provides: an iterable of :class:`lrdsl.authoring.NodeSpec`.

    Declare each node with :func:`lrdsl.authoring.schedule_node` (a formula of local time
    written against an array namespace ``xp``), :func:`~lrdsl.authoring.built_schedule_node`
    (stateful or higher-order schedules), :func:`~lrdsl.authoring.function_node` or
    :func:`~lrdsl.authoring.optimizer_node`. Names must not clash with any other source's.
    """
