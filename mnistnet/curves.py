"""The 2x2 training chart the source projects plot: train/validation loss and accuracy per epoch."""

from __future__ import annotations

from typing import Sequence


def curves_figure(history: Sequence, title: str = ""):
    from plotly.subplots import make_subplots

    epochs = [m.epoch for m in history]
    fig = make_subplots(
        rows=2, cols=2, subplot_titles=("Training loss", "Training accuracy", "Validation loss", "Validation accuracy")
    )
    panels = [("train_loss", 1, 1), ("train_acc", 1, 2), ("val_loss", 2, 1), ("val_acc", 2, 2)]
    for key, row, col in panels:
        fig.add_scatter(
            x=epochs,
            y=[getattr(m, key) for m in history],
            mode="lines+markers",
            name=key,
            row=row,
            col=col,
            showlegend=False,
        )
        fig.update_xaxes(title_text="epoch", row=row, col=col)
    fig.update_layout(title=title or "Training curves", height=700)
    return fig


def curves_html(history: Sequence, title: str = "") -> str:
    # Self-contained (plotly.js inlined) so the file opens offline.
    return curves_figure(history, title).to_html(include_plotlyjs=True, full_html=True)
