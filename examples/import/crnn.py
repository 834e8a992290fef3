"""A small CRNN in plain PyTorch (convolutions, then a bidirectional LSTM over the
columns, then a per-column classifier), the example that docs/tutorial-import.md imports
with --allow-unknown: archcalc has no recurrent layer type."""

from torch import nn


class CRNN(nn.Module):
    def __init__(self, height: int = 8, hidden: int = 32, classes: int = 37):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 1)))
        self.rnn = nn.LSTM(32 * (height // 4), hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        f = self.features(x)  # [B, 32, H/4, W/2]
        columns = f.permute(0, 3, 1, 2).flatten(2)  # [B, W/2, 32·H/4]
        y, _ = self.rnn(columns)  # [B, W/2, 2·hidden]
        return self.fc(y)  # one prediction per column
