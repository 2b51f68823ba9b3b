// Package ur implements Uniform Resources (BCR-2020-005): binary payloads as
// "ur:<type>/<bytewords>" strings, single-part when the payload fits in one
// fragment and multi-part "ur:<type>/<seqNum>-<seqLen>/<bytewords>" fountain
// codes for any size, so they can cross an air gap as (animated) QR codes.
//
// It is written by hand for this project from the specifications
// (BCR-2020-005, -006, -012): no Go BC-UR library exists. The reference
// implementations' vectors (bc-ur C++, ur-rs, the BCR papers, Keystone's
// registries; testdata/vectors) are its tests: the Encoder reproduces the
// reference parts exactly and the Decoder reads them back. Sub-packages:
// bytewords (the text encoding with CRC32) and fountain (the multi-part
// code: Xoshiro256**, fragment choice, mixing, peeling decoder).
//
// Icebox type scheme: a bundle file crosses as ur:icebox-request,
// ur:icebox-response or ur:icebox-approval; a plain PSBT as ur:crypto-psbt
// (legacy name, what most wallets read) or ur:psbt. Every one of these
// payloads is a CBOR byte string (WrapBytes/UnwrapBytes) wrapping the raw
// bytes: the bundle file as written to disk, or the binary PSBT. A UR gives
// integrity (CRC32) only; authenticity comes from the bundle's signatures,
// checked after decoding.
//
// Contracts: output is lower case, input is case-insensitive (QR
// alphanumeric mode is upper case). Decoders cap the string length and the
// declared message size and fragment count before allocating, never panic,
// and refuse bad input with an error wrapping a sentinel (this package's,
// or bytewords' / fountain's). A Decoder returns a payload only after its
// CRC32 checks.
package ur
