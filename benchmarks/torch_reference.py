"""What a student runs today: import torch, build the model, summarise it with torchinfo or
count FLOPs with FlopCounterMode. Run as a fresh process so torch's import is timed too:

    python benchmarks/torch_reference.py torchinfo vgg16
    python benchmarks/torch_reference.py flopcounter resnet50

Prints the parameter count and MACs (torchinfo's mult-adds; FlopCounterMode's FLOPs / 2)."""

from __future__ import annotations

import sys
from pathlib import Path


def main(tool: str, model_name: str) -> None:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from torch_models import MODELS

    model = MODELS[model_name]().eval()
    x = torch.zeros(1, 3, 224, 224)
    params = sum(p.numel() for p in model.parameters())
    if tool == "torchinfo":
        from torchinfo import summary

        stats = summary(model, input_data=x, verbose=0)
        print(f"{model_name}: params {stats.total_params}, mult-adds {stats.total_mult_adds}")
    elif tool == "flopcounter":
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
        print(f"{model_name}: params {params}, MACs {counter.get_total_flops() // 2}")
    else:
        raise SystemExit(f"unknown tool {tool!r}: torchinfo or flopcounter")


if __name__ == "__main__":
    main(*sys.argv[1:3])
