"""Hook specifications: the plugin author's guide (full walk-through: docs/writing-a-plugin.md).

A plugin is a module (or any object) with functions marked ``@lrdsl.hookimpl`` whose names
are the hooks below. lrdsl finds installed plugins through the entry-point group ``lrdsl``::

    # pyproject.toml of the plugin distribution
    [project.entry-points.lrdsl]
    my_nodes = "my_package.nodes"

The built-in nodes are registered through exactly these hooks (:mod:`lrdsl.builtin`), so a
plugin's node is validated, listed (``lrdsl nodes``) and compiled like a built-in one.

Rules the loader enforces (:mod:`lrdsl.plugins`): a plugin that fails to import, a hook that
raises, and a malformed node give an ``LRDSLPluginWarning`` naming your distribution and are
skipped; a name (or alias) that is a built-in's is skipped; a name two plugins provide is
disabled for both until the user blocks one. Users may turn plugins off with
``LRDSL_NO_PLUGINS=1`` or ``LRDSL_BLOCK_PLUGINS=your-dist``.

Hooks take no arguments today; pluggy lets a later version pass arguments that an
implementation may ignore, so a plugin written now keeps working.
"""

import pluggy

hookspec = pluggy.HookspecMarker("lrdsl")
hookimpl = pluggy.HookimplMarker("lrdsl")
"""Marks a plugin's implementation of a hook: ``@lrdsl.hookimpl def lrdsl_nodes(): ...``."""


@hookspec
def lrdsl_nodes():
    """Return the nodes this plugin provides: an iterable of :class:`lrdsl.authoring.NodeSpec`.

    Declare each node once with a decorator from :mod:`lrdsl.authoring`; the decorated name is
    the spec to return:

    - :func:`~lrdsl.authoring.schedule_node` — a formula ``f(xp, t, *params)`` of local time
      ``t`` written against the array namespace ``xp`` (use ``xp.minimum``, ``xp.where``,
      ``xp.tanh`` ... never ``if`` on ``t``). The same function serves ``sched(i)`` (plain
      floats) and ``sched.values(array)`` (NumPy or jax.numpy).
    - :func:`~lrdsl.authoring.built_schedule_node` — ``build(context, *params) -> Curve`` for
      stateful or higher-order schedules.
    - :func:`~lrdsl.authoring.function_node` — a pointwise function ``f(xp, *values)``.
    - :func:`~lrdsl.authoring.optimizer_node` — an optimizer's hyperparameters and update rule.

    Parameters come from the typed signature after ``xp, t``: the annotation gives the type
    (``float``, ``int``, ``bool``, ``str``, ``Duration``, ``Count``, ``list[Duration]`` ...),
    the default its default (``BASE``: the incoming base ``b``), ``checks=`` the allowed range
    (``positive``, ``between(0, 1)``, ``one_of("a", "b")``), ``horizon=`` the duration
    parameter that gives the node's natural length, and the docstring its documentation (first
    line: the summary shown by ``lrdsl nodes``). Every use in a string is checked against this
    declaration before anything is evaluated.

    Names must be identifiers, must not be keywords or identifiers of the language (``then``,
    ``for``, ``it``, ``progress`` ...), and must not clash with a built-in or another plugin.
    """
