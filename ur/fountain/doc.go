// Package fountain implements the multi-part fountain code of BCR-2020-005
// (the "Multipart UR" scheme): a message is split into SeqLen equal
// fragments (the last zero-padded); part n <= SeqLen carries fragment n-1,
// and every later part carries the XOR of a pseudo-random set of fragments
// chosen by Xoshiro256** seeded from SHA-256(seqNum ‖ CRC32(message)), with a
// degree drawn from the 1/d distribution through Vose's alias sampler. Parts
// travel as the CBOR array [seqNum, seqLen, messageLen, checksum, data].
//
// It is written for this project from the specification and the reference
// implementations' published test vectors (bc-ur C++, ur-rs): no Go library
// for Blockchain Commons UR existed. The vectors are its tests: an Encoder
// reproduces the reference parts byte for byte, and a Decoder reassembles
// them.
//
// Contracts:
//   - Encoder output is a deterministic function of message and options.
//   - ParsePart is strict (shortest-form dCBOR, exactly five items, no
//     trailing bytes) and never panics.
//   - Decoder.Receive checks every part against the caps (DecoderOptions)
//     before allocating anything, and against the first part it accepted;
//     a refused part leaves the Decoder unchanged. A message whose CRC32
//     does not match after reassembly is never returned.
//   - Stored unresolved mixed parts are capped at 2·SeqLen+16 parts and
//     4 Mi fragment references, bounding memory to about twice the message
//     size; parts beyond the cap are ignored, never an error.
package fountain
