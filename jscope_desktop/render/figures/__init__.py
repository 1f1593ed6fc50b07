"""The pictures, painted with QPainter on any paint device (the app's widgets and the image
files alike): the token strip, colour bar, header, generation matrix, several-scope strips,
series figure, the exporter and the one table of image formats (suffix → writer)."""
