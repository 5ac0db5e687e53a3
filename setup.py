"""The one thing pyproject.toml cannot say: tickwire's optional C extensions.

``tickwire._wiretime`` makes a frame's wire times int ns in one pass; ``tickwire._hotpath`` runs
the stream engine's innermost steps (queue a data frame, step an ``async for``, call a handler)
in C (see ``tickwire.speedups``). Both are optional: where they cannot be compiled, the install
goes on and tickwire runs the same pure Python code, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tickwire._wiretime",
            ["src/tickwire/_wiretime.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        Extension(
            "tickwire._hotpath",
            ["src/tickwire/_hotpath.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ]
)
