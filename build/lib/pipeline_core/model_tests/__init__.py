"""The model test suite: CI checks of a trained model, each a verdict with its evidence."""
