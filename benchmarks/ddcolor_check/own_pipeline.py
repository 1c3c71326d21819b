"""DDColor's own ColorizationPipeline (ddcolor/pipeline.py, unmodified) with the random-weight
tiny model: writes its outputs and times it."""
import os
import sys
import time
from pathlib import Path

import cv2
import torch

sys.path.insert(0, os.environ.get("DDCOLOR_SRC", "DDColor"))  # a DDColor checkout
from basicsr.archs.ddcolor_arch import DDColor  # noqa: E402
from ddcolor.pipeline import ColorizationPipeline, build_ddcolor_model  # noqa: E402

size = int(sys.argv[1])
torch.set_num_threads(2)
model = build_ddcolor_model(DDColor, model_path=f"tiny_random_{size}.pth", input_size=size,
                            model_size="tiny", device=torch.device("cpu"))
pipe = ColorizationPipeline(model, input_size=size, device=torch.device("cpu"))
for path in sorted(Path("in").glob("*.png")):
    if path.stem.endswith(("_256", "_512")) and not path.stem.endswith(f"_{size}"):
        continue
    out = pipe.process(cv2.imread(str(path)))
    cv2.imwrite(f"out/{path.stem}_ddcolor{size}.png", out)
img = cv2.imread(str(sorted(Path("in").glob(f"*_{size}.png"))[0]))
pipe.process(img)
times = []
for _ in range(5):
    t = time.perf_counter()
    pipe.process(img)
    times.append(time.perf_counter() - t)
times.sort()
print(f"ddcolor own pipeline (torch {torch.__version__}, 2 threads) at {size}: "
      f"median {times[2]*1000:.0f} ms a picture, {1/times[2]:.2f} pictures/s")
