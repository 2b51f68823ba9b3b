package ur

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/ur/bytewords"
	"github.com/icebox-custody/icebox/ur/fountain"
)

func loadJSON(t testing.TB, folder string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", folder, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type cppURVectors struct {
	SinglePart struct {
		MessageLen int    `json:"message_len"`
		UR         string `json:"ur"`
	} `json:"single_part_ur"`
	MultiPart struct {
		MessageLen     int      `json:"message_len"`
		MaxFragmentLen int      `json:"max_fragment_len"`
		Parts          []string `json:"parts"`
	} `json:"multi_part_ur"`
	MakeMessage struct {
		CBOR50Hex  string `json:"ur_bytes_cbor_50_hex"`
		CBOR256Hex string `json:"ur_bytes_cbor_256_hex"`
	} `json:"_make_message"`
}

// singleVector is a single-part UR with its CBOR, from any of the folders.
type singleVector struct {
	name, ur, urType, cborHex string
}

func singleVectors(t testing.TB) []singleVector {
	var out []singleVector
	var cpp cppURVectors
	loadJSON(t, "bc-ur-cpp", &cpp)
	out = append(out, singleVector{"bc-ur-cpp/bytes50", cpp.SinglePart.UR, "bytes", cpp.MakeMessage.CBOR50Hex})

	type entry struct {
		Description string `json:"description"`
		Test        string `json:"test"`
		UR          string `json:"ur"`
		Type        string `json:"ur_type"`
		CBORHex     string `json:"cbor_hex"`
	}
	var rs struct {
		Single []entry `json:"single_part_ur"`
	}
	loadJSON(t, "ur-rs", &rs)
	for i, e := range rs.Single {
		out = append(out, singleVector{fmt.Sprintf("ur-rs/%d", i), e.UR, strings.SplitN(strings.TrimPrefix(e.UR, "ur:"), "/", 2)[0], e.CBORHex})
	}
	var bcr struct {
		Single []entry `json:"single_part_ur"`
	}
	loadJSON(t, "bcr-research", &bcr)
	for i, e := range bcr.Single {
		out = append(out, singleVector{fmt.Sprintf("bcr-research/%d", i), e.UR, e.Type, e.CBORHex})
	}
	for _, folder := range []string{"keystone-ur-registry", "keystone-ur-registry-eth"} {
		var ks []entry
		loadJSON(t, folder, &ks)
		for i, e := range ks {
			out = append(out, singleVector{fmt.Sprintf("%s/%d", folder, i), e.UR, e.Type, e.CBORHex})
		}
	}
	if len(out) != 1+2+5+31+5 {
		t.Fatalf("expected 44 single-part vectors, got %d", len(out))
	}
	return out
}

func TestSinglePartVectors(t *testing.T) {
	for _, v := range singleVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			want := unhex(t, v.cborHex)
			for _, in := range []string{v.ur, strings.ToUpper(v.ur)} {
				typ, cbor, err := Decode(in)
				if err != nil {
					t.Fatalf("Decode(%q): %v", in, err)
				}
				if typ != v.urType || !bytes.Equal(cbor, want) {
					t.Fatalf("Decode = %s %x, want %s %x", typ, cbor, v.urType, want)
				}
			}
			got, err := Encode(v.urType, want)
			if err != nil || got != v.ur {
				t.Fatalf("Encode = %q, %v; want %q", got, err, v.ur)
			}
			// Through the multi-part Decoder too: a single-part UR completes it.
			d := mustDecoder(t, DecoderOptions{})
			if err := d.Receive(strings.ToUpper(v.ur)); err != nil {
				t.Fatal(err)
			}
			if typ, cbor, err := d.Result(); err != nil || typ != v.urType || !bytes.Equal(cbor, want) {
				t.Fatalf("Decoder.Result = %s %x %v", typ, cbor, err)
			}
		})
	}
}

func TestPSBTVectorsUnwrap(t *testing.T) {
	n := 0
	for _, v := range singleVectors(t) {
		if v.urType != TypePSBT && v.urType != TypeCryptoPSBT {
			continue
		}
		n++
		_, cbor, err := Decode(v.ur)
		if err != nil {
			t.Fatal(err)
		}
		psbt, err := UnwrapBytes(cbor)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if !bytes.HasPrefix(psbt, []byte("psbt\xff")) || len(psbt) != 167 {
			t.Fatalf("%s: payload %x is not the 167-byte BIP-174 PSBT", v.name, psbt[:8])
		}
		if !bytes.Equal(WrapBytes(psbt), cbor) {
			t.Fatalf("%s: WrapBytes does not reproduce the CBOR", v.name)
		}
	}
	if n != 5 {
		t.Fatalf("want 5 psbt/crypto-psbt vectors, got %d", n)
	}
}

func TestMultiPartVectorCpp(t *testing.T) {
	var cpp cppURVectors
	loadJSON(t, "bc-ur-cpp", &cpp)
	v := cpp.MultiPart
	cbor := unhex(t, cpp.MakeMessage.CBOR256Hex)
	enc, err := NewEncoder(TypeBytes, cbor, EncoderOptions{MaxFragmentLen: v.MaxFragmentLen})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Parts) != 20 || enc.SeqLen() != 9 || enc.IsSinglePart() {
		t.Fatalf("parts %d seqLen %d", len(v.Parts), enc.SeqLen())
	}
	for i, want := range v.Parts {
		if got := enc.NextPart(); got != want {
			t.Fatalf("part %d = %q, want %q", i+1, got, want)
		}
	}
	// Decode from the fountain parts first (10-20), upper case, then pure ones.
	d := mustDecoder(t, DecoderOptions{Types: []string{TypeBytes}})
	order := append(append([]string{}, v.Parts[9:]...), v.Parts[:9]...)
	for _, p := range order {
		if d.IsComplete() {
			break
		}
		if err := d.Receive(strings.ToUpper(p)); err != nil {
			t.Fatal(err)
		}
	}
	typ, got, err := d.Result()
	if err != nil || typ != TypeBytes || !bytes.Equal(got, cbor) {
		t.Fatalf("Result = %s %x %v", typ, got, err)
	}
}

func TestMultiPartVectorURRS(t *testing.T) {
	var rs struct {
		Multi []struct {
			PayloadUTF8    string `json:"payload_utf8"`
			MaxFragmentLen int    `json:"max_fragment_len"`
			FirstPart      string `json:"first_part"`
		} `json:"multi_part_ur"`
	}
	loadJSON(t, "ur-rs", &rs)
	v := rs.Multi[0]
	// ur-rs has no minimum fragment length; MinFragmentLen 1 reproduces it.
	enc, err := NewEncoder("my-scheme", []byte(v.PayloadUTF8), EncoderOptions{MaxFragmentLen: v.MaxFragmentLen, MinFragmentLen: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := enc.NextPart(); got != v.FirstPart {
		t.Fatalf("first part %q, want %q", got, v.FirstPart)
	}
	second := enc.NextPart()
	d := mustDecoder(t, DecoderOptions{})
	for _, p := range []string{second, v.FirstPart} {
		if err := d.Receive(p); err != nil {
			t.Fatal(err)
		}
	}
	if typ, got, err := d.Result(); err != nil || typ != "my-scheme" || string(got) != v.PayloadUTF8 {
		t.Fatalf("Result = %s %q %v", typ, got, err)
	}
}

func TestMultiPartVectorBCR(t *testing.T) {
	var bcr struct {
		Multi []struct {
			UR          string `json:"ur"`
			PartCBORHex string `json:"part_cbor_hex"`
		} `json:"multi_part_ur"`
	}
	loadJSON(t, "bcr-research", &bcr)
	v := bcr.Multi[0]
	typ, part, err := ParsePart(v.UR)
	if err != nil {
		t.Fatal(err)
	}
	if typ != "seed" || part.SeqNum != 1 || part.SeqLen != 3 || hex.EncodeToString(part.MarshalCBOR()) != v.PartCBORHex {
		t.Fatalf("ParsePart = %s %+v", typ, part)
	}
	d := mustDecoder(t, DecoderOptions{})
	if err := d.Receive(v.UR); err != nil || d.IsComplete() || d.Expected() != 3 || d.Recovered() != 1 {
		t.Fatalf("Receive: %v, complete %v, %d/%d", err, d.IsComplete(), d.Recovered(), d.Expected())
	}
}

func TestURRSInvalid(t *testing.T) {
	var rs struct {
		Invalid []struct {
			Input       string `json:"input"`
			ExpectError string `json:"expect_error"`
		} `json:"ur_decode_invalid"`
		Valid []struct {
			Input      string `json:"input"`
			PayloadHex string `json:"expect_payload_hex"`
		} `json:"ur_decode_valid"`
	}
	loadJSON(t, "ur-rs", &rs)
	want := map[string]error{
		"InvalidScheme":     ErrInvalidScheme,
		"TypeUnspecified":   ErrInvalidType,
		"InvalidCharacters": ErrInvalidType,
		"InvalidIndices":    ErrInvalidSequence,
		"NotMultiPart":      ErrNotMultiPart,
	}
	if len(rs.Invalid) != 9 || len(rs.Valid) != 2 {
		t.Fatalf("vector counts %d %d", len(rs.Invalid), len(rs.Valid))
	}
	for _, v := range rs.Invalid {
		t.Run(v.ExpectError+"/"+v.Input, func(t *testing.T) {
			var err error
			if v.ExpectError == "NotMultiPart" {
				_, _, err = ParsePart(v.Input)
			} else {
				_, _, err = Decode(v.Input)
				// The Decoder refuses it the same way.
				if derr := mustDecoder(t, DecoderOptions{}).Receive(v.Input); !errors.Is(derr, want[v.ExpectError]) {
					t.Fatalf("Decoder.Receive error %v, want %v", derr, want[v.ExpectError])
				}
			}
			if !errors.Is(err, want[v.ExpectError]) {
				t.Fatalf("error %v, want %v", err, want[v.ExpectError])
			}
		})
	}
	for _, v := range rs.Valid {
		_, cbor, err := Decode(v.Input)
		if err != nil || hex.EncodeToString(cbor) != v.PayloadHex {
			t.Fatalf("Decode(%q) = %x, %v", v.Input, cbor, err)
		}
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

// TestRoundTripLossy sends random payloads from 1 byte to 1 MB through the
// Encoder and Decoder: about 2·SeqLen parts, 30% dropped, 10% duplicated,
// the rest shuffled; then, if needed, further parts (still 30% dropped)
// until complete.
func TestRoundTripLossy(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	sizes := []struct {
		size, frag int
	}{
		{1, 250}, {2, 250}, {23, 250}, {24, 250}, {255, 250}, {256, 250}, {257, 10},
		{1000, 100}, {4096, 250}, {10_000, 250}, {65_535, 400}, {100_000, 250}, {1 << 20, 1000},
	}
	for _, c := range sizes {
		t.Run(fmt.Sprintf("%dB_frag%d", c.size, c.frag), func(t *testing.T) {
			payload := make([]byte, c.size)
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			cbor := WrapBytes(payload)
			enc, err := NewEncoder(TypeIceboxRequest, cbor, EncoderOptions{MaxFragmentLen: c.frag})
			if err != nil {
				t.Fatal(err)
			}
			if wantSingle := len(cbor) <= c.frag; enc.IsSinglePart() != wantSingle {
				t.Fatalf("IsSinglePart = %v for %d bytes, fragment %d", enc.IsSinglePart(), len(cbor), c.frag)
			}
			var stream []string
			for _, p := range enc.Parts(2*enc.SeqLen() + 4) {
				if rng.IntN(100) < 30 {
					continue
				}
				stream = append(stream, p)
				if rng.IntN(100) < 10 {
					stream = append(stream, p)
				}
			}
			rng.Shuffle(len(stream), func(i, j int) { stream[i], stream[j] = stream[j], stream[i] })
			d := mustDecoder(t, DecoderOptions{Types: []string{TypeIceboxRequest}})
			for _, p := range stream {
				if err := d.Receive(p); err != nil {
					t.Fatal(err)
				}
			}
			extra := 0
			for !d.IsComplete() {
				if extra > 4*enc.SeqLen()+20 {
					t.Fatalf("incomplete after %d extra parts: %d of %d", extra, d.Recovered(), d.Expected())
				}
				p := enc.NextPart()
				extra++
				if rng.IntN(100) < 30 {
					continue
				}
				if err := d.Receive(strings.ToUpper(p)); err != nil {
					t.Fatal(err)
				}
			}
			typ, got, err := d.Result()
			if err != nil || typ != TypeIceboxRequest {
				t.Fatalf("Result: %s %v", typ, err)
			}
			body, err := UnwrapBytes(got)
			if err != nil || !bytes.Equal(body, payload) {
				t.Fatalf("payload differs: %v", err)
			}
			if d.Progress() != 1 {
				t.Fatalf("Progress %v at completion", d.Progress())
			}
			t.Logf("%d fragments of %d bytes; %d shuffled parts + %d extra", enc.SeqLen(), enc.FragmentLen(), len(stream), extra)
		})
	}
}

// replaceWord swaps the minimal byteword at byte index i of the body of
// part for another valid one.
func replaceWord(t *testing.T, part string, i int) string {
	t.Helper()
	cut := strings.LastIndex(part, "/") + 1
	body := part[cut:]
	w := body[2*i : 2*i+2]
	other := bytewords.Encode(bytewords.Minimal, []byte{0x00})[:2]
	if w == other {
		other = bytewords.Encode(bytewords.Minimal, []byte{0x01})[:2]
	}
	return part[:cut] + body[:2*i] + other + body[2*i+2:]
}

func TestDecoderRefusals(t *testing.T) {
	payloadA := WrapBytes(bytes.Repeat([]byte("A"), 1000))
	payloadB := WrapBytes(bytes.Repeat([]byte("B"), 1000))
	encA, _ := NewEncoder(TypeIceboxRequest, payloadA, EncoderOptions{MaxFragmentLen: 100})
	partsA := encA.Parts(15)
	encB, _ := NewEncoder(TypeIceboxRequest, payloadB, EncoderOptions{MaxFragmentLen: 100})
	partsB := encB.Parts(3)
	encC, _ := NewEncoder(TypeIceboxResponse, payloadA, EncoderOptions{MaxFragmentLen: 100})
	partsC := encC.Parts(3)
	encD, _ := NewEncoder(TypeIceboxRequest, payloadA, EncoderOptions{MaxFragmentLen: 90})
	partsD := encD.Parts(3)
	single, _ := Encode(TypeIceboxRequest, WrapBytes([]byte("small")))

	// An oversize part: a well-formed part declaring a 1 GiB message.
	huge := fountain.Part{SeqNum: 1, SeqLen: 1 << 30, MessageLen: 1 << 30, Checksum: 7, Data: []byte{1}}
	hugeUR := "ur:icebox-request/1-1073741824/" + bytewords.Encode(bytewords.Minimal, huge.MarshalCBOR())
	// A self-inconsistent part: seqLen 3 but 1000 bytes in fragments of 100.
	bad := fountain.Part{SeqNum: 1, SeqLen: 3, MessageLen: 1000, Checksum: 7, Data: make([]byte, 100)}
	badUR := "ur:icebox-request/1-3/" + bytewords.Encode(bytewords.Minimal, bad.MarshalCBOR())
	// Path and CBOR disagree on the sequence number.
	wrongSeq := strings.Replace(partsA[1], "/2-11/", "/3-11/", 1)

	tests := []struct {
		name  string
		first []string // accepted first
		part  string
		opts  DecoderOptions
		want  error
	}{
		{"expfail_tampered_byteword", nil, replaceWord(t, partsA[3], 20), DecoderOptions{}, bytewords.ErrChecksum},
		{"expfail_tampered_byteword_later", partsA[:2], replaceWord(t, partsA[12], 5), DecoderOptions{}, bytewords.ErrChecksum},
		{"expfail_mixed_message_checksum", partsA[:2], partsB[2], DecoderOptions{}, fountain.ErrInconsistentPart},
		{"expfail_mixed_message_type", partsA[:2], partsC[2], DecoderOptions{}, ErrMixedMessage},
		{"expfail_mixed_fragment_len", partsA[:2], partsD[2], DecoderOptions{}, fountain.ErrInconsistentPart},
		{"expfail_single_amid_multi", partsA[:2], single, DecoderOptions{}, ErrMixedMessage},
		{"expfail_multi_after_single", []string{single}, partsA[0], DecoderOptions{}, ErrMixedMessage},
		{"expfail_wrong_type", nil, partsC[0], DecoderOptions{Types: []string{TypeIceboxRequest}}, ErrUnexpectedType},
		{"expfail_oversize_declared", nil, hugeUR, DecoderOptions{}, ErrTooLarge},
		{"expfail_oversize_cap", nil, partsA[0], DecoderOptions{MaxMessageLen: 1000}, ErrTooLarge},
		{"expfail_too_many_fragments", nil, partsA[0], DecoderOptions{MaxSeqLen: 10}, ErrTooLarge},
		{"expfail_inconsistent_lengths", nil, badUR, DecoderOptions{}, fountain.ErrInconsistentPart},
		{"expfail_seq_path_mismatch", nil, wrongSeq, DecoderOptions{}, ErrInvalidSequence},
		{"expfail_bad_bytewords", nil, partsA[0][:len(partsA[0])-1], DecoderOptions{}, ErrBytewords},
		{"expfail_not_ur", nil, "https://example.org", DecoderOptions{}, ErrInvalidScheme},
		{"expfail_huge_string", nil, "ur:bytes/" + strings.Repeat("ae", 3000), DecoderOptions{MaxMessageLen: 1000}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustDecoder(t, tc.opts)
			for _, p := range tc.first {
				if err := d.Receive(p); err != nil {
					t.Fatal(err)
				}
			}
			before := d.Received()
			err := d.Receive(tc.part)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Receive error %v, want %v", err, tc.want)
			}
			t.Logf("refused: %v", err)
			if d.Received() != before {
				t.Fatal("a refused part changed the decoder")
			}
		})
	}
}

func TestOversizeRefusedBeforeAllocation(t *testing.T) {
	huge := fountain.Part{SeqNum: 1, SeqLen: 1 << 26, MessageLen: 1 << 26, Checksum: 7, Data: []byte{1}}
	hugeUR := "ur:icebox-request/1-67108864/" + bytewords.Encode(bytewords.Minimal, huge.MarshalCBOR())
	d := mustDecoder(t, DecoderOptions{})
	var m1, m2 runtimeMem
	m1.read()
	for range 100 {
		if err := d.Receive(hugeUR); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v, want ErrTooLarge", err)
		}
	}
	m2.read()
	// 100 refusals of a part declaring 64 MiB in 64 Mi fragments: a few KB
	// of parsing garbage, never the fragment table or the message.
	if grew := m2.total - m1.total; grew > 1<<20 {
		t.Fatalf("refusing oversize parts allocated %d bytes", grew)
	}
}

func TestUnwrapBytesRefusals(t *testing.T) {
	for _, h := range []string{"", "40ff", "5801aa", "58", "5f4100ff", "a0", "4200", "590001aa", "41"} {
		if b, err := UnwrapBytes(unhex(t, h)); !errors.Is(err, ErrNotByteString) {
			t.Errorf("UnwrapBytes(%s) = %x, %v", h, b, err)
		}
	}
	for _, n := range []int{0, 23, 24, 255, 256, 65535, 65536} {
		b := bytes.Repeat([]byte{9}, n)
		if got, err := UnwrapBytes(WrapBytes(b)); err != nil || !bytes.Equal(got, b) {
			t.Errorf("round trip of %d bytes: %v", n, err)
		}
	}
}

func TestEncodeRefusals(t *testing.T) {
	if _, err := Encode("Bad/Type", []byte{0x40}); !errors.Is(err, ErrInvalidType) {
		t.Fatalf("Encode with bad type: %v", err)
	}
	if _, err := NewEncoder("bytes", nil, EncoderOptions{MaxFragmentLen: 100}); !errors.Is(err, fountain.ErrInvalidOptions) {
		t.Fatalf("empty payload: %v", err)
	}
	if _, err := NewEncoder("bytes", []byte{1}, EncoderOptions{}); !errors.Is(err, fountain.ErrInvalidOptions) {
		t.Fatalf("zero fragment length: %v", err)
	}
	if _, err := NewDecoder(DecoderOptions{Types: []string{"UPPER"}}); !errors.Is(err, ErrInvalidType) {
		t.Fatalf("bad Types: %v", err)
	}
}

func fuzzSeeds(t testing.TB) []string {
	var seeds []string
	for _, v := range singleVectors(t) {
		seeds = append(seeds, v.ur)
	}
	var cpp cppURVectors
	loadJSON(t, "bc-ur-cpp", &cpp)
	seeds = append(seeds, cpp.MultiPart.Parts...)
	seeds = append(seeds, "ur:seed/1-3/lpadaxcsencylobemohsgmoyadhdeynteelblrcygldwvarflojtcywyjydmylgdsa",
		"ur:my-scheme/1-2/lpadaobkcywkwmhfwnfeghihjtcxiansvomopr", "uhr:bytes/aeadaolazmjendeoti",
		"ur:bytes/1-1/toomuch/aeadaolazmjendeoti", "UR:BYTES/0-1/AEADAOLAZMJENDEOTI")
	return seeds
}

func FuzzDecodePart(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, cbor, err := Decode(s)
		if err == nil {
			// A valid single-part UR re-encodes to itself up to case.
			again, err := Encode(typ, cbor)
			if err != nil || !strings.EqualFold(again, s) {
				t.Fatalf("Decode(%q) → Encode = %q, %v", s, again, err)
			}
		}
		typ, part, err := ParsePart(s)
		if err == nil {
			again := fmt.Sprintf("ur:%s/%d-%d/%s", typ, part.SeqNum, part.SeqLen, bytewords.Encode(bytewords.Minimal, part.MarshalCBOR()))
			if !strings.EqualFold(again, s) {
				t.Fatalf("ParsePart(%q) → %q", s, again)
			}
		}
	})
}

func FuzzDecoderReceive(f *testing.F) {
	var cpp cppURVectors
	loadJSON(f, "bc-ur-cpp", &cpp)
	parts := cpp.MultiPart.Parts
	f.Add(strings.Join(parts, "\n"))
	f.Add(strings.Join(append(append([]string{}, parts[12:]...), parts[:5]...), "\n"))
	f.Add(strings.Join([]string{parts[9], parts[3], parts[9]}, "\n"))
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stream string) {
		d, err := NewDecoder(DecoderOptions{MaxMessageLen: 1 << 16, MaxSeqLen: 1 << 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(stream, "\n") {
			_ = d.Receive(line)
		}
		if p := d.Progress(); p < 0 || p > 1 {
			t.Fatalf("Progress %v", p)
		}
		if !d.IsComplete() {
			if _, _, err := d.Result(); err == nil {
				t.Fatal("Result without error before completion")
			}
			return
		}
		typ, cbor, err := d.Result()
		if err != nil {
			if !errors.Is(err, fountain.ErrChecksum) {
				t.Fatalf("unexpected Result error %v", err)
			}
			return
		}
		if CheckType(typ) != nil || len(cbor) == 0 && d.Expected() > 1 {
			t.Fatalf("Result %q %x", typ, cbor)
		}
	})
}

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
