"""Build hook for the one optional C extension (everything else is in pyproject.toml).

``edgesdk.local._evidence`` fuses the per-token evidence pass (log-softmax, entropy, margin)
into one vectorised read of the logits row. It is optional: without a C compiler the install
still succeeds and ``edgesdk.local.llm.EvidenceMeter`` uses its numpy fallback.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "edgesdk.local._evidence",
            sources=["edgesdk/local/_evidence.c"],
            depends=["edgesdk/local/_evidence_kernel.h"],
            extra_compile_args=["-O3", "-fopenmp-simd", "-fno-math-errno", "-Wno-psabi"],
            optional=True,
        )
    ]
)
