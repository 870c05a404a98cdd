"""Media: images, animations and video, optical flow, audio."""
