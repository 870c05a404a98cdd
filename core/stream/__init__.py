"""The live stream: rendering subject after subject, serving and recording it."""
