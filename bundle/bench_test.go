package bundle

import (
	"fmt"
	"testing"
)

// bigRequest is a sweep of n transactions with payloads of size bytes.
func bigRequest(b *testing.B, n, size int) []byte {
	r := sampleRequest()
	r.Kind = KindSweep
	r.Transactions = make([]Transaction, n)
	for i := range r.Transactions {
		p := make([]byte, size)
		p[0], p[1] = byte(i), byte(i>>8)
		r.Transactions[i] = Transaction{Network: "btc-regtest", Format: FormatPSBT, Payload: p}
	}
	if err := SignRequest(r, requesterKey, "hot-wallet"); err != nil {
		b.Fatal(err)
	}
	data, err := EncodeRequest(r)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkDecodeRequest(b *testing.B) {
	for _, c := range []struct{ n, size int }{{300, 400}, {20000, 400}, {20000, 3000}} {
		data := bigRequest(b, c.n, c.size)
		b.Run(fmt.Sprintf("txs=%d/payload=%d/bytes=%d", c.n, c.size, len(data)), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeRequest(data, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRequestDigest(b *testing.B) {
	data := bigRequest(b, 20000, 400)
	r, err := DecodeRequest(data, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_ = RequestDigest(r)
	}
}
