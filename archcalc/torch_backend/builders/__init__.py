"""Torch builders, one module per layer family, mirroring archcalc/layers/<family>.py.

They stay apart from the rules on purpose: verify builds the network the way PyTorch does
and measures it, an independent check of the rules' arithmetic.
"""

from . import activation, conv, linear, merge, norm, pool, tensor  # noqa: F401  (register)
from . import partition, product  # noqa: F401  (register)
from . import attention  # noqa: F401  (register)
from . import embedding  # noqa: F401  (register)
from . import opaque  # noqa: F401  (register)
