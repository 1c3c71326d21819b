"""Grey test pictures from CBSD68: at each network's square, and at the set's own size."""
import cv2

names = ["101085", "102061", "108005"]
for name in names:
    bgr = cv2.imread(f"../shared/data/val/cbsd68/{name}.png")
    grey = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    cv2.imwrite(f"in/{name}_native.png", grey)
    for s in (256, 512):
        cv2.imwrite(f"in/{name}_{s}.png", cv2.resize(grey, (s, s), interpolation=cv2.INTER_AREA))
