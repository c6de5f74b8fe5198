"""Deploy trained binary networks: bit-packed weights and an XNOR-popcount CPU convolution
(see docs/deploy.md).

* :func:`export_binary` swaps every ``BinaryConv2d`` for a :class:`PackedBinaryConv2d` and every
  ``BinaryLinear`` for a :class:`PackedBinaryLinear` (real first/last layers kept);
* :func:`save_packed` / :func:`load_packed` write and read a versioned, checksummed file;
* :func:`size_report` compares it with the float checkpoint;
* :mod:`~plugins.deploy.packing` packs sign tensors into 64-bit words.

Importing this package compiles nothing: the C++ kernel (``csrc/xnor_conv.cpp``) is built on
first use (10-20 s with g++, once) and cached, see :mod:`plugins.deploy.build`.
"""
from .basic_block_chain import (chain_basic_blocks, chain_basic_layers, kernel_rounds_like_torch,
                                register_basic_block)
from .build import KernelBuildError, best_isa, library_path, load_library
from .export import (ExportReport, PackedWithPostAct, export_binary, fuse_for_inference,
                     is_binary_conv, is_binary_linear, pack_layer, pack_linear, set_backend)
from .packed_conv import PackedBinaryConv2d, activation_factor, xnor_conv2d
from .packed_linear import PackedBinaryLinear
from .packed_file import (FORMAT_VERSION, PackedFileError, layer_table, load_packed, model_sizes,
                          module_table, read_header, save_packed, size_report)
from .packing import kernel_layout, num_words, pack_signs, tap_popcounts, unpack_signs

__all__ = [
    'export_binary', 'ExportReport', 'PackedWithPostAct', 'is_binary_conv', 'pack_layer',
    'is_binary_linear', 'pack_linear', 'set_backend', 'PackedBinaryConv2d', 'PackedBinaryLinear',
    'xnor_conv2d', 'activation_factor', 'save_packed', 'load_packed', 'read_header', 'size_report',
    'model_sizes', 'layer_table', 'module_table', 'PackedFileError', 'FORMAT_VERSION', 'pack_signs',
    'unpack_signs', 'fuse_for_inference',
    'kernel_layout', 'tap_popcounts', 'num_words', 'KernelBuildError', 'best_isa', 'library_path',
    'load_library', 'chain_basic_blocks', 'chain_basic_layers', 'register_basic_block',
    'kernel_rounds_like_torch'
]
