package fountain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

type cppVectors struct {
	CRC32 []struct {
		InputUTF8   string `json:"input_utf8"`
		ExpectedHex string `json:"expected_hex"`
	} `json:"crc32"`
	Xoshiro []struct {
		SeedUTF8      string `json:"seed_utf8"`
		SeedCRCOfUTF8 string `json:"seed_crc32_of_utf8"`
		Op            string `json:"op"`
		Expected      []int  `json:"expected"`
	} `json:"xoshiro256"`
	Nominal []struct {
		MessageLen     int `json:"message_len"`
		MinFragmentLen int `json:"min_fragment_len"`
		MaxFragmentLen int `json:"max_fragment_len"`
		Expected       int `json:"expected"`
	} `json:"find_nominal_fragment_length"`
	RandomSampler struct {
		Probs    []float64 `json:"probs"`
		SeedUTF8 string    `json:"seed_utf8"`
		Expected []int     `json:"expected"`
	} `json:"random_sampler"`
	Shuffle struct {
		SeedUTF8 string  `json:"seed_utf8"`
		Values   []int   `json:"values"`
		Expected [][]int `json:"expected"`
	} `json:"shuffle"`
	Partition struct {
		MessageLen     int      `json:"message_len"`
		SeedUTF8       string   `json:"seed_utf8"`
		MinFragmentLen int      `json:"min_fragment_len"`
		MaxFragmentLen int      `json:"max_fragment_len"`
		FragmentsHex   []string `json:"expected_fragments_hex"`
	} `json:"partition_and_join"`
	ChooseDegree struct {
		MessageLen int   `json:"message_len"`
		SeqLen     int   `json:"seq_len"`
		Expected   []int `json:"expected"`
	} `json:"choose_degree"`
	ChooseFragments struct {
		MessageLen int     `json:"message_len"`
		SeqLen     int     `json:"seq_len"`
		Expected   [][]int `json:"expected"`
	} `json:"choose_fragments"`
	XOR struct {
		Data1Hex string `json:"data1_hex"`
		Data2Hex string `json:"data2_hex"`
		XORHex   string `json:"xor_hex"`
	} `json:"xor"`
	FountainEncoder struct {
		MessageLen     int `json:"message_len"`
		MaxFragmentLen int `json:"max_fragment_len"`
		Parts          []struct {
			SeqNum     uint32 `json:"seq_num"`
			SeqLen     int    `json:"seq_len"`
			MessageLen int    `json:"message_len"`
			Checksum   uint32 `json:"checksum"`
			DataHex    string `json:"data_hex"`
			CBORHex    string `json:"cbor_hex"`
		} `json:"parts"`
	} `json:"fountain_encoder"`
	RoundtripOnly []struct {
		MessageLen     int    `json:"message_len"`
		MaxFragmentLen int    `json:"max_fragment_len"`
		FirstSeqNum    uint32 `json:"first_seq_num"`
		CBORHex        string `json:"expected_cbor_hex_from_bcr_2024_001"`
	} `json:"roundtrip_only"`
	MakeMessage struct {
		Msg50Hex  string `json:"make_message_50_hex"`
		Msg256Hex string `json:"make_message_256_hex"`
	} `json:"_make_message"`
}

func loadCpp(t testing.TB) cppVectors {
	t.Helper()
	var v cppVectors
	b, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "bc-ur-cpp", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func makeMessage(n int) []byte { return newXoshiro([]byte("Wolf")).nextData(n) }

func TestCRC32Vectors(t *testing.T) {
	v := loadCpp(t)
	for _, c := range v.CRC32 {
		if got := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(c.InputUTF8))); got != c.ExpectedHex {
			t.Errorf("crc32(%q) = %s, want %s", c.InputUTF8, got, c.ExpectedHex)
		}
	}
	if len(v.CRC32) != 2 {
		t.Fatalf("want 2 crc32 vectors, got %d", len(v.CRC32))
	}
}

func TestXoshiroVectors(t *testing.T) {
	v := loadCpp(t)
	if len(v.Xoshiro) != 3 {
		t.Fatalf("want 3 sequences, got %d", len(v.Xoshiro))
	}
	for i, c := range v.Xoshiro {
		var x *xoshiro256
		if c.SeedCRCOfUTF8 != "" {
			var seed [4]byte
			sum := crc32.ChecksumIEEE([]byte(c.SeedCRCOfUTF8))
			seed[0], seed[1], seed[2], seed[3] = byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)
			x = newXoshiro(seed[:])
		} else {
			x = newXoshiro([]byte(c.SeedUTF8))
		}
		got := make([]int, len(c.Expected))
		for j := range got {
			switch c.Op {
			case "next() % 100":
				got[j] = int(x.next() % 100)
			case "next_int(1, 10)":
				got[j] = x.nextInt(1, 10)
			default:
				t.Fatalf("unknown op %q", c.Op)
			}
		}
		if !slices.Equal(got, c.Expected) {
			t.Errorf("sequence %d (%s): got %v, want %v", i, c.Op, got, c.Expected)
		}
	}
}

func TestMakeMessageVectors(t *testing.T) {
	v := loadCpp(t)
	if got := hex.EncodeToString(makeMessage(50)); got != v.MakeMessage.Msg50Hex {
		t.Fatalf("make_message(50) = %s", got)
	}
	if got := hex.EncodeToString(makeMessage(256)); got != v.MakeMessage.Msg256Hex {
		t.Fatalf("make_message(256) = %s", got)
	}
}

func TestSamplerAndShuffleVectors(t *testing.T) {
	v := loadCpp(t)
	x := newXoshiro([]byte(v.RandomSampler.SeedUTF8))
	s := newSampler(v.RandomSampler.Probs)
	got := make([]int, len(v.RandomSampler.Expected))
	for i := range got {
		got[i] = s.next(x)
	}
	if !slices.Equal(got, v.RandomSampler.Expected) || len(got) != 500 {
		t.Errorf("sampler: got %v, want %v", got, v.RandomSampler.Expected)
	}
	x = newXoshiro([]byte(v.Shuffle.SeedUTF8))
	for i, want := range v.Shuffle.Expected {
		if got := shuffled(v.Shuffle.Values, x); !slices.Equal(got, want) {
			t.Errorf("shuffle round %d: got %v, want %v", i, got, want)
		}
	}
}

func TestNominalFragmentLenVectors(t *testing.T) {
	v := loadCpp(t)
	for _, c := range v.Nominal {
		if got := NominalFragmentLen(c.MessageLen, c.MinFragmentLen, c.MaxFragmentLen); got != c.Expected {
			t.Errorf("NominalFragmentLen(%d, %d, %d) = %d, want %d", c.MessageLen, c.MinFragmentLen, c.MaxFragmentLen, got, c.Expected)
		}
	}
}

func TestPartitionVector(t *testing.T) {
	v := loadCpp(t).Partition
	msg := makeMessage(v.MessageLen)
	fl := NominalFragmentLen(len(msg), v.MinFragmentLen, v.MaxFragmentLen)
	frags := partition(msg, fl)
	if len(frags) != len(v.FragmentsHex) {
		t.Fatalf("%d fragments, want %d", len(frags), len(v.FragmentsHex))
	}
	var joined []byte
	for i, f := range frags {
		if got := hex.EncodeToString(f); got != v.FragmentsHex[i] {
			t.Errorf("fragment %d = %s, want %s", i, got, v.FragmentsHex[i])
		}
		joined = append(joined, f...)
	}
	if !bytes.Equal(joined[:len(msg)], msg) {
		t.Fatal("join differs from message")
	}
}

func TestChooseDegreeVector(t *testing.T) {
	v := loadCpp(t).ChooseDegree
	for nonce := 1; nonce <= len(v.Expected); nonce++ {
		x := newXoshiro([]byte(fmt.Sprintf("Wolf-%d", nonce)))
		if got := chooseDegree(v.SeqLen, x); got != v.Expected[nonce-1] {
			t.Errorf("nonce %d: degree %d, want %d", nonce, got, v.Expected[nonce-1])
		}
	}
}

func TestChooseFragmentsVector(t *testing.T) {
	v := loadCpp(t).ChooseFragments
	msg := makeMessage(v.MessageLen)
	c := chooser{seqLen: v.SeqLen, checksum: crc32.ChecksumIEEE(msg)}
	for i, want := range v.Expected {
		got := c.choose(uint32(i + 1))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("seqNum %d: %v, want %v", i+1, got, want)
		}
	}
	// The cached sampler and the early-stopping shuffle match the plain
	// reference construction.
	for seq := uint32(12); seq < 200; seq++ {
		var seed [8]byte
		seed[0], seed[1], seed[2], seed[3] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
		seed[4], seed[5], seed[6], seed[7] = byte(c.checksum>>24), byte(c.checksum>>16), byte(c.checksum>>8), byte(c.checksum)
		x := newXoshiro(seed[:])
		d := chooseDegree(v.SeqLen, x)
		all := make([]int, v.SeqLen)
		for i := range all {
			all[i] = i
		}
		want := shuffled(all, x)[:d]
		if got := c.choose(seq); !slices.Equal(got, want) {
			t.Fatalf("seqNum %d: %v, reference %v", seq, got, want)
		}
	}
}

func TestXORVector(t *testing.T) {
	v := loadCpp(t).XOR
	x := newXoshiro([]byte("Wolf"))
	d1, d2 := x.nextData(10), x.nextData(10)
	if hex.EncodeToString(d1) != v.Data1Hex || hex.EncodeToString(d2) != v.Data2Hex {
		t.Fatalf("data %x %x", d1, d2)
	}
	xorInto(d1, d2)
	if got := hex.EncodeToString(d1); got != v.XORHex {
		t.Fatalf("xor = %s, want %s", got, v.XORHex)
	}
}

func TestEncoderVector(t *testing.T) {
	v := loadCpp(t).FountainEncoder
	enc, err := NewEncoder(makeMessage(v.MessageLen), EncoderOptions{MaxFragmentLen: v.MaxFragmentLen})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Parts) != 20 {
		t.Fatalf("want 20 parts, got %d", len(v.Parts))
	}
	dec := mustDecoder(t, DecoderOptions{})
	for _, want := range v.Parts {
		p := enc.NextPart()
		if p.SeqNum != want.SeqNum || p.SeqLen != want.SeqLen || p.MessageLen != want.MessageLen ||
			p.Checksum != want.Checksum || hex.EncodeToString(p.Data) != want.DataHex {
			t.Fatalf("part %d = %+v, want %+v", want.SeqNum, p, want)
		}
		if got := hex.EncodeToString(p.MarshalCBOR()); got != want.CBORHex {
			t.Fatalf("part %d CBOR = %s, want %s", want.SeqNum, got, want.CBORHex)
		}
		parsed, err := ParsePart(unhex(t, want.CBORHex))
		if err != nil {
			t.Fatalf("ParsePart(%d): %v", want.SeqNum, err)
		}
		if parsed.SeqNum != p.SeqNum || !bytes.Equal(parsed.Data, p.Data) {
			t.Fatalf("ParsePart(%d) = %+v", want.SeqNum, parsed)
		}
	}
	// Decoding only the 11 fountain-mixed reference parts plus what they need.
	for _, want := range v.Parts[9:] {
		p, err := ParsePart(unhex(t, want.CBORHex))
		if err != nil {
			t.Fatal(err)
		}
		if err := dec.Receive(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range v.Parts[:9] {
		if dec.IsComplete() {
			break
		}
		p, _ := ParsePart(unhex(t, want.CBORHex))
		if err := dec.Receive(p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := dec.Result()
	if err != nil || !bytes.Equal(got, makeMessage(v.MessageLen)) {
		t.Fatalf("Result = %x, %v", got, err)
	}
}

func TestPartCBORVector(t *testing.T) {
	v := loadCpp(t).RoundtripOnly
	want := v[2].CBORHex
	p := Part{SeqNum: 12, SeqLen: 8, MessageLen: 100, Checksum: 0x12345678, Data: []byte{1, 5, 3, 3, 5}}
	if got := hex.EncodeToString(p.MarshalCBOR()); got != want {
		t.Fatalf("CBOR = %s, want %s", got, want)
	}
	back, err := ParsePart(unhex(t, want))
	if err != nil || back.SeqNum != 12 || back.SeqLen != 8 || back.MessageLen != 100 || back.Checksum != 0x12345678 || !bytes.Equal(back.Data, p.Data) {
		t.Fatalf("ParsePart = %+v, %v", back, err)
	}
}

func mustDecoder(t testing.TB, o DecoderOptions) *Decoder {
	t.Helper()
	d, err := NewDecoder(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRoundtripVector is the reference "decoder" test: 32767 bytes,
// fragments of at most 1000, first seqNum 100 (so no pure part is ever
// seen), parts fed until complete.
func TestRoundtripVector(t *testing.T) {
	v := loadCpp(t).RoundtripOnly[0]
	msg := makeMessage(v.MessageLen)
	enc, err := NewEncoder(msg, EncoderOptions{MaxFragmentLen: v.MaxFragmentLen, FirstSeqNum: v.FirstSeqNum})
	if err != nil {
		t.Fatal(err)
	}
	dec := mustDecoder(t, DecoderOptions{})
	for n := 0; !dec.IsComplete(); n++ {
		if n > 10*enc.SeqLen() {
			t.Fatalf("not complete after %d parts", n)
		}
		if err := dec.Receive(enc.NextPart()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := dec.Result()
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Result: %v", err)
	}
}

func TestRoundtripLossy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 9, 10, 11, 100, 1000, 4096, 65537} {
		for _, maxFrag := range []int{10, 37, 250} {
			if size/maxFrag > 2000 {
				continue // large fragment counts are covered in package ur
			}
			t.Run(fmt.Sprintf("size%d_frag%d", size, maxFrag), func(t *testing.T) {
				msg := make([]byte, size)
				for i := range msg {
					msg[i] = byte(rng.Uint32())
				}
				enc, err := NewEncoder(msg, EncoderOptions{MaxFragmentLen: maxFrag})
				if err != nil {
					t.Fatal(err)
				}
				dec := mustDecoder(t, DecoderOptions{})
				for n := 0; !dec.IsComplete(); n++ {
					if n > 20*enc.SeqLen()+50 {
						t.Fatalf("not complete after %d parts (%d of %d)", n, dec.Recovered(), dec.Expected())
					}
					p := enc.NextPart()
					if rng.IntN(10) < 3 { // drop 30%
						continue
					}
					if err := dec.Receive(p); err != nil {
						t.Fatal(err)
					}
					if rng.IntN(10) == 0 { // and repeat some
						if err := dec.Receive(p); err != nil {
							t.Fatal(err)
						}
					}
				}
				got, err := dec.Result()
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("Result: %v", err)
				}
			})
		}
	}
}

func TestDecoderRefusals(t *testing.T) {
	msg := makeMessage(256)
	enc, _ := NewEncoder(msg, EncoderOptions{MaxFragmentLen: 30})
	first := enc.NextPart()
	second := enc.NextPart()
	other, _ := NewEncoder(makeMessage(257), EncoderOptions{MaxFragmentLen: 30})
	otherPart := other.NextPart()
	otherPart.SeqNum = 2

	mod := func(p Part, f func(*Part)) Part {
		p.Data = append([]byte(nil), p.Data...)
		f(&p)
		return p
	}
	tests := []struct {
		name string
		opts DecoderOptions
		p    Part
		want error
	}{
		{"expfail_mixed_message", DecoderOptions{}, otherPart, ErrInconsistentPart},
		{"expfail_other_checksum", DecoderOptions{}, mod(second, func(p *Part) { p.Checksum ^= 1 }), ErrInconsistentPart},
		{"expfail_other_messageLen", DecoderOptions{}, mod(second, func(p *Part) { p.MessageLen-- }), ErrInconsistentPart},
		{"expfail_inconsistent_seqLen", DecoderOptions{}, mod(second, func(p *Part) { p.SeqLen++ }), ErrInconsistentPart},
		{"expfail_short_fragment", DecoderOptions{}, mod(second, func(p *Part) { p.Data = p.Data[1:] }), ErrInconsistentPart},
		{"expfail_zero_seqNum", DecoderOptions{}, mod(second, func(p *Part) { p.SeqNum = 0 }), ErrMalformedPart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustDecoder(t, tc.opts)
			if err := d.Receive(first); err != nil {
				t.Fatal(err)
			}
			if err := d.Receive(tc.p); !errors.Is(err, tc.want) {
				t.Fatalf("Receive error %v, want %v", err, tc.want)
			}
			if d.Received() != 1 || d.Recovered() != 1 {
				t.Fatalf("refused part changed the decoder: received %d recovered %d", d.Received(), d.Recovered())
			}
		})
	}
}

func TestDecoderCapsBeforeAllocation(t *testing.T) {
	huge := Part{SeqNum: 1, SeqLen: 1 << 30, MessageLen: 1 << 30, Checksum: 1, Data: []byte{1}}
	d := mustDecoder(t, DecoderOptions{})
	// Bytes, not allocation counts: the race detector adds allocations of
	// its own, but never anything near the declared 1 GiB.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		if err := d.Receive(huge); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v, want ErrTooLarge", err)
		}
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Fatalf("refusing 10 oversize parts allocated %d bytes", got)
	}
	small := mustDecoder(t, DecoderOptions{MaxMessageLen: 100})
	if err := small.Receive(Part{SeqNum: 1, SeqLen: 101, MessageLen: 101, Data: []byte{1}}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	fewParts := mustDecoder(t, DecoderOptions{MaxSeqLen: 10})
	if err := fewParts.Receive(Part{SeqNum: 1, SeqLen: 11, MessageLen: 11, Data: []byte{1}}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
}

func TestDecoderChecksumMismatch(t *testing.T) {
	msg := makeMessage(100)
	enc, _ := NewEncoder(msg, EncoderOptions{MaxFragmentLen: 30})
	d := mustDecoder(t, DecoderOptions{})
	for i := 0; i < enc.SeqLen(); i++ {
		p := enc.NextPart()
		if i == 2 {
			p.Data[0] ^= 0x80 // tampered fragment, header intact
		}
		if err := d.Receive(p); err != nil {
			t.Fatal(err)
		}
	}
	if !d.IsComplete() {
		t.Fatal("not complete")
	}
	if got, err := d.Result(); !errors.Is(err, ErrChecksum) || got != nil {
		t.Fatalf("Result = %x, %v; want ErrChecksum", got, err)
	}
}

func TestParsePartRefusals(t *testing.T) {
	tests := []struct{ name, hex string }{
		{"expfail_empty", ""},
		{"expfail_array4", "840c0818641a12345678"},
		{"expfail_non_shortest_seqnum", "85180c0818641a12345678450105030305"},
		{"expfail_trailing", "850c0818641a1234567845010503030500"},
		{"expfail_truncated", "850c0818641a123456784501050303"},
		{"expfail_negative", "85200818641a12345678450105030305"},
		{"expfail_text_data", "850c0818641a12345678650105030305"},
		{"expfail_indefinite", "850c0818641a123456785f0105030305"},
		{"expfail_64bit", "850c08181b00000001000000001a12345678450105030305"},
		{"expfail_zero_seqlen", "850c0018641a12345678450105030305"},
		{"expfail_empty_data", "850c0818641a1234567840"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := ParsePart(unhex(t, tc.hex)); !errors.Is(err, ErrMalformedPart) {
				t.Fatalf("ParsePart = %+v, %v; want ErrMalformedPart", p, err)
			}
		})
	}
}
