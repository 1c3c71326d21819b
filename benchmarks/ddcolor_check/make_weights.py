"""DDColor's tiny architecture (ConvNeXt-T encoder, MultiScaleColorDecoder, as its
scripts/export_onnx.py builds it) with random weights, saved as its checkpoints are."""
import os
import sys

import torch

sys.path.insert(0, os.environ.get("DDCOLOR_SRC", "DDColor"))  # a DDColor checkout
from basicsr.archs.ddcolor_arch import DDColor  # noqa: E402

size = int(sys.argv[1])
torch.manual_seed(0)
model = DDColor(encoder_name="convnext-t", decoder_name="MultiScaleColorDecoder",
                input_size=[size, size], num_output_channels=2, last_norm="Spectral",
                do_normalize=False, num_queries=100, num_scales=3, dec_layers=9)
# Spectral norm's power iteration runs only in training mode: without it the untrained u, v
# give a far too small sigma and outputs of 1e14. A few passes on random pictures settle it
# (and the batch norms' statistics); the weights stay the random ones.
model.train()
with torch.no_grad():
    for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 10):
        model(torch.rand(1, 3, size, size))
model.eval()
# The untrained network's a/b are near 0 (std ~0.2): its last layer's scale is raised so the
# colours spread as a trained network's do (std ~20 a/b units, some beyond sRGB): spectral norm
# divides by sigma = u.W.v, so u is scaled down by the factor.
gain = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
with torch.no_grad():
    model.refine_net[0][0].weight_u.div_(gain)
    out = model(torch.rand(1, 3, size, size))
print("a/b of a random picture: std", float(out.std()), "max", float(out.abs().max()))
torch.save({"params": model.state_dict()}, f"tiny_random_{size}.pth")
print("saved", sum(p.numel() for p in model.parameters()), "parameters")
