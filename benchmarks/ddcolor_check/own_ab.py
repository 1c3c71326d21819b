"""DDColor's network output (torch) on its own pre-processing, saved for the comparison, with
the pipeline's float BGR before its 8-bit cast (to see where it leaves [0, 1])."""
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.environ.get("DDCOLOR_SRC", "DDColor"))  # a DDColor checkout
from basicsr.archs.ddcolor_arch import DDColor  # noqa: E402
from ddcolor.pipeline import build_ddcolor_model  # noqa: E402

size = int(sys.argv[1])
model = build_ddcolor_model(DDColor, model_path=f"tiny_random_{size}.pth", input_size=size,
                            model_size="tiny", device=torch.device("cpu"))
for path in sorted(Path("in").glob(f"*_{size}.png")) + sorted(Path("in").glob("*_native.png")):
    img = (cv2.imread(str(path)) / 255.0).astype(np.float32)  # as ColorizationPipeline.process
    h, w = img.shape[:2]
    orig_l = cv2.cvtColor(img, cv2.COLOR_BGR2Lab)[:, :, :1]
    img_l = cv2.cvtColor(cv2.resize(img, (size, size)), cv2.COLOR_BGR2Lab)[:, :, :1]
    grey = cv2.cvtColor(np.concatenate([img_l, 0 * img_l, 0 * img_l], -1), cv2.COLOR_LAB2RGB)
    with torch.no_grad():
        ab = model(torch.from_numpy(grey.transpose(2, 0, 1)).float()[None])
    ab_full = F.interpolate(ab, size=(h, w))[0].numpy().transpose(1, 2, 0)
    bgr = cv2.cvtColor(np.concatenate([orig_l, ab_full], -1), cv2.COLOR_LAB2BGR)
    np.savez(f"out/{path.stem}_own{size}.npz", ab=ab[0].numpy().transpose(1, 2, 0), bgr=bgr,
             ab_full=ab_full)
