"""Random occluders: textured shapes pasted over parts of the figure."""
import cv2
import numpy as np

from .texture import random_colour, random_texture


def draw_occluders(rng: np.random.Generator, img: np.ndarray, joints: np.ndarray,
                   size: float, max_count: int = 2) -> np.ndarray:
    """Paste 1..``max_count`` opaque random shapes (rectangle, ellipse or polygon), each
    centred near a randomly chosen joint, in place.

    Args:
        rng: random generator.
        img: ``(H, W, 3)`` uint8 image, modified in place.
        joints: ``(K, 2)`` joints (0-based pixels) to place the occluders near.
        size: figure size in pixels; an occluder spans 15-40 % of it.
        max_count: maximum number of occluders.

    Returns:
        ``(H, W)`` bool mask of the occluded pixels.
    """
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, max_count + 1))):
        shape_mask = np.zeros((h, w), np.uint8)
        centre = joints[rng.integers(len(joints))] + rng.normal(0, 0.05 * size, 2)
        ext = size * rng.uniform(0.15, 0.4)
        kind = rng.integers(3)
        if kind == 0:
            pts = cv2.boxPoints((tuple(centre), (ext, ext * rng.uniform(0.3, 1.0)),
                                 rng.uniform(0, 180)))
            cv2.fillConvexPoly(shape_mask, np.round(pts).astype(np.int32), 1)
        elif kind == 1:
            axes = (max(1, int(ext / 2)), max(1, int(ext / 2 * rng.uniform(0.4, 1.0))))
            cv2.ellipse(shape_mask, tuple(int(v) for v in centre), axes, rng.uniform(0, 180),
                        0, 360, 1, -1)
        else:
            n = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * np.pi, n))
            rad = ext / 2 * rng.uniform(0.5, 1.0, n)
            pts = centre + np.stack([np.cos(ang), np.sin(ang)], 1) * rad[:, None]
            cv2.fillPoly(shape_mask, [np.round(pts).astype(np.int32)], 1)
        rows, cols = np.nonzero(shape_mask.any(1))[0], np.nonzero(shape_mask.any(0))[0]
        if not len(rows):
            continue
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        sel = shape_mask[box].astype(bool)
        tex = random_texture(rng, sel.shape, random_colour(rng))
        img[box][sel] = tex[sel].astype(np.uint8)
        mask |= shape_mask
    return mask.astype(bool)


def occluded_joints(mask: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Which joints fall on occluded pixels.

    Args:
        mask: ``(H, W)`` bool occlusion mask.
        joints: ``(K, 2)`` 0-based pixel positions.

    Returns:
        ``(K,)`` bool (False for joints outside the image).
    """
    h, w = mask.shape
    xy = np.round(joints).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    out = np.zeros(len(joints), bool)
    out[inside] = mask[xy[inside, 1], xy[inside, 0]]
    return out
