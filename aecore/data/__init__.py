"""Data: the data sets (the bundled MNIST, torchvision's, your own imported ones), images, corruptions, drawings."""
