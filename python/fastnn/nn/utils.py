"""fastnn.nn.utils: gradient clipping (native), as torch.nn.utils."""

from ..optim.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
