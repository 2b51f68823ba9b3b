package noderpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeNode answers JSON-RPC calls from a table of method → handler. It
// listens on loopback only (httptest).
func fakeNode(t *testing.T, user, pass string, handlers map[string]func(params []json.RawMessage) (any, *NodeError)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		var req struct {
			ID     uint64            `json:"id"`
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h, ok := handlers[req.Method]
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"id":%d,"result":null,"error":{"code":-32601,"message":"Method not found"}}`, req.ID)
			return
		}
		res, nerr := h(req.Params)
		out := map[string]any{"id": req.ID, "jsonrpc": "2.0"}
		if nerr != nil {
			w.WriteHeader(http.StatusInternalServerError) // as btcd does
			out["error"] = map[string]any{"code": nerr.Code, "message": nerr.Message}
		} else {
			out["result"] = res
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

const (
	txA = "aa00000000000000000000000000000000000000000000000000000000000001"
	txB = "bb00000000000000000000000000000000000000000000000000000000000002"
)

func TestBTCUTXOs(t *testing.T) {
	addr := "sb1qexample"
	// txA: output 0 (ours, mature coinbase), output 1 (someone else's).
	// txB: output 0 ours but spent, output 1 ours unspent; txC: immature coinbase.
	txC := "cc00000000000000000000000000000000000000000000000000000000000003"
	search := []map[string]any{
		{"txid": txA, "hex": "01", "confirmations": 150, "vout": []any{
			map[string]any{"value": json.Number("50"), "n": 0, "scriptPubKey": map[string]any{"hex": "0014aa", "addresses": []string{addr}}},
			map[string]any{"value": json.Number("1"), "n": 1, "scriptPubKey": map[string]any{"hex": "0014bb", "addresses": []string{"other"}}},
		}},
		{"txid": txB, "hex": "02", "confirmations": 5, "vout": []any{
			map[string]any{"value": json.Number("0.5"), "n": 0, "scriptPubKey": map[string]any{"hex": "0014aa", "addresses": []string{addr}}},
			map[string]any{"value": json.Number("1e-05"), "n": 1, "scriptPubKey": map[string]any{"hex": "0014aa", "addresses": []string{addr}}},
		}},
		{"txid": txC, "hex": "03", "confirmations": 99, "vout": []any{
			map[string]any{"value": json.Number("50"), "n": 0, "scriptPubKey": map[string]any{"hex": "0014aa", "addresses": []string{addr}}},
		}},
	}
	txout := map[string]any{
		txA + ":0": map[string]any{"confirmations": 150, "value": json.Number("50"), "coinbase": true, "scriptPubKey": map[string]any{"hex": "0014aa"}},
		txB + ":1": map[string]any{"confirmations": 5, "value": json.Number("0.00001"), "coinbase": false, "scriptPubKey": map[string]any{"hex": "0014aa"}},
		txC + ":0": map[string]any{"confirmations": 99, "value": json.Number("50"), "coinbase": true, "scriptPubKey": map[string]any{"hex": "0014aa"}},
	}
	srv := fakeNode(t, "u", "p", map[string]func([]json.RawMessage) (any, *NodeError){
		"searchrawtransactions": func(p []json.RawMessage) (any, *NodeError) {
			var a string
			_ = json.Unmarshal(p[0], &a)
			if a != addr {
				return nil, &NodeError{Code: -5, Message: "No information available about address"}
			}
			return search, nil
		},
		"gettxout": func(p []json.RawMessage) (any, *NodeError) {
			var id string
			var n int
			_ = json.Unmarshal(p[0], &id)
			_ = json.Unmarshal(p[1], &n)
			return txout[fmt.Sprintf("%s:%d", id, n)], nil
		},
	})
	c, err := NewBTC(Config{URL: srv.URL, User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.UTXOs(context.Background(), UTXOQuery{Addresses: []string{addr, "sb1qempty"}, MinConf: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []UTXO{
		{Outpoint: txA + ":0", Address: addr, AmountSat: 50_0000_0000, PrevTxHex: "01", Confirmations: 150, Coinbase: true},
		{Outpoint: txB + ":1", Address: addr, AmountSat: 1000, PrevTxHex: "02", Confirmations: 5},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d utxos %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		got[i].addrIndex = 0
		if got[i] != want[i] {
			t.Errorf("utxo %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	bad, _ := NewBTC(Config{URL: srv.URL, User: "u", Password: "wrong"})
	if _, err := bad.UTXOs(context.Background(), UTXOQuery{Addresses: []string{addr}}); !errors.Is(err, ErrRPC) {
		t.Errorf("wrong password: err = %v, want ErrRPC", err)
	}
}

func TestBTCUTXOsDisagreement(t *testing.T) {
	srv := fakeNode(t, "", "", map[string]func([]json.RawMessage) (any, *NodeError){
		"searchrawtransactions": func([]json.RawMessage) (any, *NodeError) {
			return []map[string]any{{"txid": txA, "hex": "01", "vout": []any{
				map[string]any{"value": 1, "n": 0, "scriptPubKey": map[string]any{"hex": "00", "addresses": []string{"a"}}}}}}, nil
		},
		"gettxout": func([]json.RawMessage) (any, *NodeError) {
			return map[string]any{"confirmations": 3, "value": 2, "scriptPubKey": map[string]any{"hex": "00"}}, nil
		},
	})
	c, _ := NewBTC(Config{URL: srv.URL})
	if _, err := c.UTXOs(context.Background(), UTXOQuery{Addresses: []string{"a"}}); !errors.Is(err, ErrResponse) {
		t.Fatalf("err = %v, want ErrResponse (amounts disagree)", err)
	}
}

func TestParseBTCAmount(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"50", 5_000_000_000, true},
		{"0.00000001", 1, true},
		{"1e-05", 1000, true},
		{"20999999.9769", 2_099_999_997_690_000, true},
		{"0.000000001", 0, false}, // below a satoshi
		{"-1", 0, false},
		{"abc", 0, false},
		{`"1"`, 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseBTCAmount(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBTCAmount(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestETH(t *testing.T) {
	holder := "0x00000000000000000000000000000000000000aa"
	token := "0x00000000000000000000000000000000000000bb"
	srv := fakeNode(t, "", "", map[string]func([]json.RawMessage) (any, *NodeError){
		"eth_chainId":              func([]json.RawMessage) (any, *NodeError) { return "0x539", nil },
		"eth_getTransactionCount":  func([]json.RawMessage) (any, *NodeError) { return "0x7", nil },
		"eth_getBalance":           func([]json.RawMessage) (any, *NodeError) { return "0xde0b6b3a7640000", nil },
		"eth_maxPriorityFeePerGas": func([]json.RawMessage) (any, *NodeError) { return "0x3b9aca00", nil },
		"eth_feeHistory": func([]json.RawMessage) (any, *NodeError) {
			return map[string]any{"baseFeePerGas": []string{"0x10", "0x20"}}, nil
		},
		"eth_call": func(p []json.RawMessage) (any, *NodeError) {
			var call map[string]string
			_ = json.Unmarshal(p[0], &call)
			if call["to"] != token || call["data"] != "0x70a08231"+strings.Repeat("0", 24)+holder[2:] {
				return nil, &NodeError{Code: 3, Message: "execution reverted"}
			}
			return "0x" + strings.Repeat("0", 62) + "2a", nil
		},
		"eth_sendRawTransaction": func([]json.RawMessage) (any, *NodeError) { return "0x" + strings.Repeat("ab", 32), nil },
	})
	e, err := NewETH(Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if id, err := e.ChainID(ctx); err != nil || id != 1337 {
		t.Errorf("ChainID = %d, %v", id, err)
	}
	if n, err := e.Nonce(ctx, holder); err != nil || n != 7 {
		t.Errorf("Nonce = %d, %v", n, err)
	}
	if b, err := e.Balance(ctx, holder, "latest"); err != nil || b.String() != "1000000000000000000" {
		t.Errorf("Balance = %v, %v", b, err)
	}
	if b, err := e.TokenBalance(ctx, token, holder, "latest"); err != nil || b.Int64() != 42 {
		t.Errorf("TokenBalance = %v, %v", b, err)
	}
	f, err := e.SuggestFees(ctx)
	if err != nil || f.BaseFee.Int64() != 0x20 || f.MaxPriorityFeePerGas.Int64() != 1e9 || f.MaxFeePerGas.Int64() != 2*0x20+1e9 {
		t.Errorf("SuggestFees = %+v, %v", f, err)
	}
	if h, err := e.SendRawTransaction(ctx, "02f8"); err != nil || len(h) != 66 {
		t.Errorf("SendRawTransaction = %q, %v", h, err)
	}
	var ne *NodeError
	if _, err := e.TokenBalance(ctx, holder, holder, "latest"); !errors.As(err, &ne) || ne.Code != 3 {
		t.Errorf("reverting balanceOf: err = %v, want a NodeError", err)
	}
	if _, err := e.TokenBalance(ctx, "0x12", holder, "latest"); !errors.Is(err, ErrConfig) {
		t.Errorf("short token address: err = %v, want ErrConfig", err)
	}
}

func TestParseQuantity(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{{"0x0", true}, {"0x1a", true}, {"0x" + strings.Repeat("f", 64), true}, {"0x" + strings.Repeat("f", 65), false},
		{"0x01", false}, {"0x", false}, {"1a", false}, {"0xzz", false}} {
		_, err := ParseQuantity(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseQuantity(%q): err = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	var q Quantity
	if err := json.Unmarshal([]byte(`26`), &q); err == nil {
		t.Error("a bare JSON number was accepted as a quantity")
	}
	if err := json.Unmarshal([]byte(`"0x1a"`), &q); err != nil || q.Cmp(big.NewInt(26)) != 0 {
		t.Errorf("quantity 0x1a = %v, %v", q.String(), err)
	}
}

func TestEnvelope(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"ok_result", `{"id":1,"result":5}`, true},
		{"ok_error", `{"id":1,"result":null,"error":{"code":-5,"message":"x"}}`, true},
		{"expfail_wrong_id", `{"id":2,"result":5}`, false},
		{"expfail_no_result", `{"id":1}`, false},
		{"expfail_trailing", `{"id":1,"result":5} {}`, false},
		{"expfail_not_json", `<html>`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeEnvelope([]byte(tc.body), 1)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestResponseCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":1,"result":"%s"}`, strings.Repeat("a", 2048))
	}))
	defer srv.Close()
	c, _ := NewClient(Config{URL: srv.URL, MaxResponseBytes: 1024})
	if err := c.Call(context.Background(), "x", nil, nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want the size cap", err)
	}
}

func TestNewClientConfig(t *testing.T) {
	for _, u := range []string{"", "ftp://127.0.0.1", "127.0.0.1:8545", "http://user:pw@127.0.0.1:1"} {
		if _, err := NewClient(Config{URL: u}); !errors.Is(err, ErrConfig) {
			t.Errorf("url %q: err = %v, want ErrConfig", u, err)
		}
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{`{"id":1,"result":5}`, `{"id":1,"error":{"code":1,"message":"m"}}`, `{"id":1,"result":null}`, `[]`, `{"id":"1"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeEnvelope(b, 1)
		if err == nil && d.err == nil && len(d.result) == 0 {
			t.Fatal("accepted an envelope with neither result nor error")
		}
	})
}

func FuzzParseBTCAmount(f *testing.F) {
	for _, s := range []string{"50", "0.00000001", "1e-05", "-1", "1/2", "1e999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseBTCAmount(s)
		if err == nil && v < 0 {
			t.Fatalf("%q parsed to negative %d", s, v)
		}
	})
}
