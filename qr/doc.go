// Package qr turns UR parts into QR code images and back: PNG frames, an
// animated GIF, a half-block terminal animation, and decoding of PNG/JPEG
// images with gozxing.
//
// Rendering contracts: text is upper-cased so a UR uses the alphanumeric
// mode; frames are drawn at a fixed number of pixels per module with a white
// quiet zone (gozxing needs a whole number of pixels per module); all frames
// of one animation share the smallest QR version that fits every part, so
// the code keeps its size while it animates. Images are two-colour paletted
// (index 0 white, 1 black). Defaults (level M, 4 px/module, 4-module quiet
// zone, 8 fps) are for phone and webcam scanning; docs/qr.md gives the
// capacity figures behind them.
//
// Decoding contracts: image files are capped in bytes and pixels before the
// pixels are decoded; only PNG and JPEG are read; a file without a readable
// code is ErrNoCode, never a panic. What the code says is not trusted here:
// the UR decoder checks it.
package qr
