"""Spec files for the benchmarks: long numeric chains and ResNet-style networks with a free
input size.

``chain(n)`` is ``n`` layers (conv 3×3 / ReLU pairs, written as one ``repeat``);
``resnet(blocks)`` is a ResNet-50-style bottleneck network with ``blocks`` = identity blocks
per stage and input ``[3, H, W]`` with ``H`` and ``W`` free; ``free_input(text)`` rewrites a
fixed-input spec (``input: [3, 224, 224]``, any channel count) to take ``[3, H, W]``.
"""

from __future__ import annotations

import re
from pathlib import Path


def chain(n: int, channels: int = 8, size: int = 32) -> str:
    """A chain of ``n`` layers (``n`` even): conv2d k3 p1 then relu, ``n // 2`` times."""
    if n % 2:
        raise ValueError("chain length must be even (conv + relu pairs)")
    return (
        f"# {n} layers: conv2d 3x3 padding 1 + relu, repeated {n // 2} times.\n"
        f"name: chain{n}\n"
        f"input: [{channels}, {size}, {size}]\n"
        "layers:\n"
        f"  - repeat: {n // 2}\n"
        "    layers:\n"
        f"      - conv2d: {{out: {channels}, kernel: 3, padding: 1}}\n"
        "      - relu\n"
    )


_BOTTLENECK_BLOCKS = """\
blocks:
  bottleneck:
    params: [w, out]
    layers:
      - branches:
          - [conv2d: {out: w, kernel: 1, bias: false}, batchnorm2d, relu,
             conv2d: {out: w, kernel: 3, padding: 1, bias: false}, batchnorm2d, relu,
             conv2d: {out: out, kernel: 1, bias: false}, batchnorm2d]
          - [identity]
        merge: add
      - relu
  bottleneck_down:
    params: [w, out, s]
    layers:
      - branches:
          - [conv2d: {out: w, kernel: 1, bias: false}, batchnorm2d, relu,
             conv2d: {out: w, kernel: 3, stride: s, padding: 1, bias: false}, batchnorm2d, relu,
             conv2d: {out: out, kernel: 1, bias: false}, batchnorm2d]
          - [conv2d: {out: out, kernel: 1, stride: s, bias: false}, batchnorm2d]
        merge: add
      - relu
"""


def resnet(blocks: int) -> str:
    """ResNet-50 layout with ``blocks`` identity blocks after each stage's projection block
    (ResNet-50 itself has [2, 3, 5, 2]); input ``[3, H, W]`` with free ``H``, ``W``."""
    lines = [
        f"# ResNet-style: 4 stages x (1 + {blocks}) bottleneck blocks, free input size.",
        f"name: resnet_b{blocks}",
        "symbols: {H: null, W: null}",
        "input: [3, H, W]",
        _BOTTLENECK_BLOCKS.rstrip("\n"),
        "layers:",
        "  - conv2d: {name: conv1, out: 64, kernel: 7, stride: 2, padding: 3, bias: false}",
        "  - batchnorm2d",
        "  - relu",
        "  - maxpool2d: {name: maxpool, kernel: 3, stride: 2, padding: 1}",
    ]
    for i, (w, s) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
        lines.append(f"  - bottleneck_down: {{name: layer{i}.0, w: {w}, out: {4 * w}, s: {s}}}")
        if blocks:
            lines.append(f"  - repeat: {blocks}")
            lines.append(f"    name: layer{i}")
            lines.append(f"    layers: [bottleneck: {{w: {w}, out: {4 * w}}}]")
    lines += ["  - adaptiveavgpool2d: {out: 1}", "  - flatten", "  - linear: {name: fc, out: 1000}"]
    return "\n".join(lines) + "\n"


def resnet_layers(blocks: int) -> int:
    """Number of bottleneck blocks × 3 convolutions + stem + fc: the usual 'ResNet-N' depth."""
    return 4 * (1 + blocks) * 3 + 2


_FIXED_INPUT = re.compile(r"^input:\s*\[\s*(\d+)\s*,\s*\d+\s*,\s*\d+\s*\]", re.MULTILINE)
_FLOW_SYMBOLS = re.compile(r"^symbols:[ \t]*\{(?P<inner>[^}\n]*)\}", re.MULTILINE)
_BLOCK_SYMBOLS = re.compile(r"^symbols:[ \t]*(#.*)?\n(?P<indent>[ \t]+)", re.MULTILINE)


def free_input(text: str) -> str:
    """The same spec with its ``[C, h, w]`` input (C, h, w numbers) replaced by
    ``[C, H, W]``, H and W free: added to its ``symbols`` section (a one-line flow mapping
    or a block mapping), or to a new one above the input."""
    found = list(_FIXED_INPUT.finditer(text))
    if len(found) != 1:
        raise ValueError("expected one 'input: [C, h, w]' line with numbers")
    at = found[0]
    new = f"{text[:at.start()]}input: [{at.group(1)}, H, W]{text[at.end():]}"
    flow, block = _FLOW_SYMBOLS.search(new), _BLOCK_SYMBOLS.search(new)
    if flow:
        inner = flow.group("inner").strip()
        if re.search(r"(^|,)\s*[HW]\s*:", inner):
            raise ValueError("the spec already has a symbol H or W")
        added = f"{inner}, H: null, W: null" if inner else "H: null, W: null"
        return new[:flow.start("inner")] + added + new[flow.end("inner"):]
    if block:
        indent = block.group("indent")
        body = re.match(rf"(?:{indent}\S.*\n|\s*#.*\n)*", new[block.end() - len(indent):])
        if re.search(rf"^{indent}[HW]\s*:", body.group(0), re.MULTILINE):
            raise ValueError("the spec already has a symbol H or W")
        where = block.end() - len(indent)
        return new[:where] + f"{indent}H: null\n{indent}W: null\n" + new[where:]
    if re.search(r"^symbols:", new, re.MULTILINE):
        raise ValueError("a 'symbols:' section neither a one-line {…} nor a block mapping")
    return f"{new[:at.start()]}symbols: {{H: null, W: null}}\n{new[at.start():]}"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path
