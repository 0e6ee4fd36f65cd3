"""LiveMind's SIMD kernels, numpy in and numpy out.

Every operation runs on the fastest path this CPU supports (see :func:`isa`); :func:`set_isa`
forces another so that paths can be compared. Shapes and dtypes are checked first: a wrong one
raises ``ValueError`` naming the argument.

>>> import numpy as np, livemind.kernels as K
>>> K.matmul(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)).shape
(2, 4)
"""

from livemind.kernels._attention import attention
from livemind.kernels._elementwise import geglu, gelu, layernorm, rmsnorm, rope, softcap, softmax, swiglu
from livemind.kernels._fp8 import fp8_decode, fp8_encode
from livemind.kernels._isa import available_isas, cpu_count, get_threads, isa, set_isa, set_threads, thread_cap
from livemind.kernels._matmul import matmul
from livemind.kernels._quant import QUANT_FORMATS, dequantize, qmatmul, quantize, repack_x16, x16_pays

__all__ = sorted([
    "QUANT_FORMATS", "attention", "available_isas", "cpu_count", "dequantize", "fp8_decode",
    "fp8_encode", "geglu", "gelu", "get_threads", "isa", "layernorm", "matmul", "qmatmul",
    "quantize", "repack_x16", "rmsnorm", "rope", "set_isa", "set_threads", "softcap", "softmax", "swiglu",
    "thread_cap",
    "x16_pays",
])
