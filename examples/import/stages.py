"""Three stages of residual blocks in plain PyTorch (widths 16, 32, 64; each later stage
opens with a stride-2 block whose shortcut is a 1x1 projection), the example that
docs/tutorial-import.md imports to show blocks with parameters. Its forward first checks
the input's size in Python, which torch.fx cannot trace: archcalc import torch falls back
to torch.export."""

import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.project = None
        if stride != 1 or cin != cout:
            self.project = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                         nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.project is None else self.project(x)))


class Stages(nn.Module):
    def __init__(self, widths=(16, 32, 64), depth: int = 3, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, cin = [], widths[0]
        for i, width in enumerate(widths):
            for j in range(depth):
                blocks.append(Block(cin, width, 2 if i > 0 and j == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        if x.shape[-1] < 8:
            raise ValueError("Stages needs inputs of at least 8 x 8")
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))
