"""The one thing pyproject.toml cannot say: tickwire's optional C extension.

``tickwire._wiretime`` makes a frame's wire times int ns in one pass (see ``tickwire.speedups``).
It is optional: where it cannot be compiled, the install goes on and tickwire runs the same pure
Python code, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tickwire._wiretime",
            ["src/tickwire/_wiretime.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
