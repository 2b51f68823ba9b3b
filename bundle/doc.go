// Package bundle owns what crosses the air gap: request, approval, response
// and refusal types, their one deterministic encoding, their domain-separated
// digests and the size caps enforced before any decoding. It imports only the
// standard library (and sigkey).
package bundle
