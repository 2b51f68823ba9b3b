package noderpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// DefaultMaxResponseBytes caps one JSON-RPC response body.
const DefaultMaxResponseBytes = 32 << 20

// DefaultTimeout bounds one call when the context has no deadline.
const DefaultTimeout = 60 * time.Second

var (
	// ErrRPC: the call did not complete (transport, HTTP status, malformed envelope).
	ErrRPC = errors.New("node rpc failed")
	// ErrNode: the node answered with a JSON-RPC error.
	ErrNode = errors.New("node returned an error")
	// ErrResponse: the node's result is not what the method promises.
	ErrResponse = errors.New("unusable node response")
	// ErrConfig: the client configuration is invalid.
	ErrConfig = errors.New("invalid node rpc configuration")
)

// NodeError is a JSON-RPC error object returned by the node.
type NodeError struct {
	Method  string
	Code    int
	Message string
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("%s: node error %d: %s", e.Method, e.Code, e.Message)
}

// Unwrap returns ErrNode.
func (e *NodeError) Unwrap() error { return ErrNode }

// Config configures a Client.
type Config struct {
	// URL is the node's JSON-RPC endpoint (http or https).
	URL string
	// User and Password enable HTTP basic auth (btcd); empty: none.
	User     string
	Password string
	// HTTPClient is used when set (default: a client with DefaultTimeout).
	HTTPClient *http.Client
	// MaxResponseBytes caps a response body (0: DefaultMaxResponseBytes).
	MaxResponseBytes int64
}

// Client makes JSON-RPC 1.0/2.0 calls to one node. Safe for concurrent use.
type Client struct {
	url      string
	user     string
	pass     string
	http     *http.Client
	maxBytes int64
	id       atomic.Uint64
}

// NewClient checks cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: url %q: want http://host:port or https://host:port", ErrConfig, cfg.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: url: put credentials in the user/password options, not in the URL", ErrConfig)
	}
	c := &Client{url: cfg.URL, user: cfg.User, pass: cfg.Password, http: cfg.HTTPClient, maxBytes: cfg.MaxResponseBytes}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxResponseBytes
	}
	return c, nil
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type envelope struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Call invokes method with params and decodes the result into result (a
// pointer; nil discards it). A JSON null result decodes as the zero value.
func (c *Client) Call(ctx context.Context, method string, params []any, result any) error {
	if params == nil {
		params = []any{}
	}
	id := c.id.Add(1)
	body, err := json.Marshal(request{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("%w: %s: encode params: %v", ErrRPC, method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRPC, method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRPC, method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %s: read response: %v", ErrRPC, method, err)
	}
	if int64(len(data)) > c.maxBytes {
		return fmt.Errorf("%w: %s: response larger than %d bytes", ErrRPC, method, c.maxBytes)
	}
	// btcd answers JSON-RPC errors with HTTP 500 and a JSON body: look at
	// the body first, the status only when it is not an envelope.
	raw, err := decodeEnvelope(data, id)
	if err != nil {
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%w: %s: HTTP %s", ErrRPC, method, resp.Status)
		}
		return fmt.Errorf("%w: %s: %w", ErrRPC, method, err)
	}
	if raw.err != nil {
		return &NodeError{Method: method, Code: raw.err.Code, Message: raw.err.Message}
	}
	if result == nil || bytes.Equal(raw.result, []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(raw.result, result); err != nil {
		return fmt.Errorf("%w: %s: result: %v", ErrResponse, method, err)
	}
	return nil
}

type decoded struct {
	result json.RawMessage
	err    *NodeError
}

// decodeEnvelope parses one JSON-RPC response envelope: exactly one JSON
// object, the id we sent, a result or an error.
func decodeEnvelope(data []byte, id uint64) (decoded, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var env envelope
	if err := dec.Decode(&env); err != nil {
		return decoded{}, fmt.Errorf("envelope: %v", err)
	}
	if dec.More() {
		return decoded{}, errors.New("envelope: trailing data after the JSON value")
	}
	var gotID uint64
	if err := json.Unmarshal(env.ID, &gotID); err != nil || gotID != id {
		return decoded{}, fmt.Errorf("envelope: id %s, want %d", env.ID, id)
	}
	if env.Error != nil {
		return decoded{err: &NodeError{Code: env.Error.Code, Message: env.Error.Message}}, nil
	}
	if len(env.Result) == 0 {
		return decoded{}, errors.New("envelope: neither result nor error")
	}
	return decoded{result: env.Result}, nil
}
