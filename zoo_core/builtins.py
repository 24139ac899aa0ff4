"""The core's own plugin: data sets every family can use. Registered like any plugin."""
from __future__ import annotations

from .datasets import DatasetInfo
from .hookspecs import hookimpl


@hookimpl
def zoo_datasets() -> list[DatasetInfo]:
    return [
        DatasetInfo(
            name="digits",
            loader="zoo_core.data.digits:load_digits",
            description="scikit-learn's 1,797 handwritten digits, 8x8 upsampled; 1,437 train / 360 test",
            license="CC BY 4.0 (UCI ML hand-written digits)",
        ),
    ]
