"""The floor of `archcalc params vgg16.yaml` in Python: read the spec with PyYAML's C loader
and add VGG16's per-layer counts as integers (typed in: (k·k·C_in + 1)·C_out for the 13
convolutions, (in + 1)·out for the 3 linear layers), printing 138,357,544 parameters and
15,470,264,320 MACs. What archcalc adds on top of this is its own work."""

import sys

import yaml

spec = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)
convs = [(3, 64, 224), (64, 64, 224), (64, 128, 112), (128, 128, 112), (128, 256, 56),
         (256, 256, 56), (256, 256, 56), (256, 512, 28), (512, 512, 28), (512, 512, 28),
         (512, 512, 14), (512, 512, 14), (512, 512, 14)]
fcs = [(25088, 4096), (4096, 4096), (4096, 1000)]
params = sum((9 * i + 1) * o for i, o, _ in convs) + sum((i + 1) * o for i, o in fcs)
macs = sum(9 * i * o * n * n for i, o, n in convs) + sum(i * o for i, o in fcs)
print(f"{len(spec)} sections; {params:,} params; {macs:,} MACs")
