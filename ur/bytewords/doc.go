// Package bytewords implements Bytewords (BCR-2020-012): bytes spelled as
// four-letter English words, followed by a four-word CRC32 (IEEE, big-endian)
// of the body.
//
// It is written for this project from the specification: no Go library for
// Blockchain Commons UR existed to build on. The reference vectors of the C++
// (bc-ur) and Rust (ur-rs) implementations and of the BCR papers are its
// tests (../testdata/vectors).
//
// Contracts: Encode never fails for a valid Style. Decode is
// case-insensitive, refuses non-ASCII input, odd-length minimal strings,
// unknown or misspelt words, inputs shorter than the checksum and checksum
// mismatches, each with an error wrapping a sentinel (ErrInvalidWord,
// ErrInvalidLength, ErrNonASCII, ErrTooShort, ErrChecksum). Decode never
// panics. Callers cap the input size before calling Decode: output is half
// the input length at most.
package bytewords
