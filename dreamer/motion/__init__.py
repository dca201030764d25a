"""Motion: zooms and videos, planned as frame sequences, each frame's dream carried into the next,
written as PNG frames and encoded (video I/O, optical flow, warping)."""
