"""Feature visualisation: objectives, image parameterisations and priors, tiling, DeepDream and deepdraw."""
