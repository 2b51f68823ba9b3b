package ur

// DefaultFragmentLen is the default largest payload fragment per part: a
// part then fits a QR code that phones and webcams read at a glance (see
// docs/qr.md).
const DefaultFragmentLen = 300

// PayloadParts returns the UR parts carrying payload (a bundle file or a
// PSBT; it is wrapped as a CBOR byte string) as type urType. With n <= 0 it
// returns one part when the payload fits one fragment, otherwise the pure
// parts followed by fountain parts, 2.5 × the fragment count in all — enough
// for a scanner that misses 30% of the frames to finish in one pass.
func PayloadParts(urType string, payload []byte, fragmentLen, n int) ([]string, error) {
	if fragmentLen <= 0 {
		fragmentLen = DefaultFragmentLen
	}
	enc, err := NewEncoder(urType, WrapBytes(payload), EncoderOptions{MaxFragmentLen: fragmentLen})
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		n = (enc.SeqLen()*5 + 1) / 2
		if enc.IsSinglePart() {
			n = 1
		}
	}
	return enc.Parts(n), nil
}
