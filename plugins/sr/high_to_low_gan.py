"""Stage 1: the High-to-Low GAN that learns to degrade HR faces from unpaired HR and LR images.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018), Sec. 3.2: the generator ``G_HL(x_HR, z)`` outputs a 16x16 image that the
discriminator must not tell apart from *real* low-quality LR images (unpaired), while the pixel
loss keeps it close to the average-pooled HR input so that the content is preserved.
"""
from __future__ import annotations

import torch
from mmengine.registry import MODELS
from torch.nn import functional as F

from .gan_model import AlternatingGAN, from_net, to_net

__all__ = ['HighToLowGAN']


@MODELS.register_module()
class HighToLowGAN(AlternatingGAN):
    """High-to-Low GAN (see :class:`AlternatingGAN` for the arguments).

    Batches are dicts with ``hr`` (B, 3, 64, 64) and ``lr`` (B, 3, 16, 16) images in [0, 1]
    (unpaired for training; ``paired`` marks samples whose ``lr`` is the real degradation of
    their ``hr``).
    """

    def generate(self, data: dict, noise: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(to_net(data['hr']), noise)

    def pixel_target(self, data: dict) -> torch.Tensor:
        return self.generator.pooled_input(to_net(data['hr']))

    def real_samples(self, data: dict) -> torch.Tensor:
        return to_net(data['lr'])

    def predict(self, data: dict) -> list[dict]:
        """Per sample: ``pred`` the generated LR; ``real`` the real LR of the batch; ``gt`` the
        real LR when it is the degradation of this very HR (paired test data)."""
        pred = from_net(self.generate(data))
        paired = data.get('paired', torch.zeros(len(pred), dtype=torch.bool))
        out = []
        for i in range(len(pred)):
            item = dict(pred=pred[i], input=data['hr'][i])
            if 'lr' in data:
                item['real'] = data['lr'][i]
                if bool(paired[i]):
                    item['gt'] = data['lr'][i]
            out.append(item)
        return out

    def sample_grid(self, data: dict, num_noise: int = 2) -> list[torch.Tensor]:
        """Rows for a picture: HR, bicubic-downsampled HR, ``num_noise`` generated LR (different
        noise vectors), real LR (unpaired). Each (B, 3, h, w) in [0, 1]."""
        data = self.data_preprocessor(data, False)
        hr = data['hr']
        with torch.no_grad():
            rows = [hr, F.interpolate(hr, scale_factor=1 / self.generator.scale, mode='bicubic',
                                      antialias=True).clamp(0, 1)]
            rows += [from_net(self.generate(data)) for _ in range(num_noise)]
        if 'lr' in data:
            rows.append(data['lr'])
        return rows
