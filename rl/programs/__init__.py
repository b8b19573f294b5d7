"""Hand-written reference reward programs for the built-in environments.

One directory per environment (``doorkey_5x5/``, ``unlock/``, ``pandapush/`` ...; the name
:func:`rl.program.reference_program` derives from the env id), written by
:mod:`rl.programs.reference` from the checker sources kept there. Regenerate after editing a
source with ``python -m rl.programs.reference``; never edit a ``.py`` in a program directory by
hand (its sha256 is in ``program.json``).
"""
