package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func seedFromTestdata(f *testing.F) {
	files, err := filepath.Glob("testdata/*.icebox")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// fuzzLimits are small so the fuzzer reaches every cap.
var fuzzLimits = Limits{
	MaxRequestBytes: 1 << 16, MaxResponseBytes: 1 << 16, MaxApprovalBytes: 1 << 12,
	MaxTransactions: 8, MaxPayloadBytes: 1 << 10, MaxApprovals: 4,
}

// checkAccepted asserts what every accepted input must satisfy: it is the
// canonical encoding of the decoded value and re-decodes identically.
func checkAccepted(t *testing.T, data []byte, b Bundle) {
	var again []byte
	var err error
	switch v := b.(type) {
	case *Request:
		again, err = EncodeRequest(v)
		_ = RequestDigest(v)
	case *DetachedApproval:
		again, err = EncodeApproval(v)
	case *Response:
		again, err = EncodeResponse(v)
		_ = ResponseDigest(v)
	}
	if err != nil {
		t.Fatalf("accepted value does not re-encode: %v", err)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("accepted non-canonical input\n in  %x\n out %x", data, again)
	}
	var out bytes.Buffer
	if err := Describe(&out, b); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	seedFromTestdata(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data, fuzzLimits)
		if err != nil {
			if r != nil {
				t.Fatal("value returned with an error")
			}
			return
		}
		checkAccepted(t, data, r)
	})
}

func FuzzDecodeApproval(f *testing.F) {
	seedFromTestdata(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeApproval(data, fuzzLimits)
		if err != nil {
			if a != nil {
				t.Fatal("value returned with an error")
			}
			return
		}
		checkAccepted(t, data, a)
	})
}

func FuzzDecodeResponse(f *testing.F) {
	seedFromTestdata(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResponse(data, fuzzLimits)
		if err != nil {
			if r != nil {
				t.Fatal("value returned with an error")
			}
			return
		}
		checkAccepted(t, data, r)
	})
}
