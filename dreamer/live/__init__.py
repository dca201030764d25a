"""Live: a camera dreamed as it films, each frame continuing the previous dream along the motion."""
